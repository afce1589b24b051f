"""Cached engine handles and the session-state key names shared by the pages."""
from __future__ import annotations

import uuid

import streamlit as st

from tlcore import settings
from tlcore.data.library import DomainLibrary
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore, default_root
from tlcore.user_settings import load_settings, update_settings

# session-state keys (one place, so pages agree)
SOURCE_SPEC = "tl_source_spec"      # dict: the chosen source DomainSpec (as a RunConfig dict)
TARGET_SPEC = "tl_target_spec"      # dict: the chosen target DomainSpec
PAIR_LABEL = "tl_pair_label"        # str: how the chosen pair is shown ("demo: digits", ...)
SUBMIT_NONCE = "tl_submit_nonce"    # str: idempotency key of the next submit on the Train page
LAST_JOBS = "tl_last_jobs"          # list[str]: job ids queued by this session's last submit
RESTORED = "tl_settings_restored"   # str: the user whose stored settings this session has loaded
SAVED_TRAIN = "tl_saved_train"      # dict: modality -> the Train settings stored for this user
BATCH = "tl_batch"                  # list[str]: job ids of this user's last "Run all strategies"

DEFAULT_DEMO = "digits"


def home() -> str:
    """The data root as a string (the cache key of every handle)."""
    return str(default_root())


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    return RunStore(root)


@st.cache_resource(show_spinner=False)
def _queue(root: str) -> JobQueue:
    return JobQueue(_store(root))


@st.cache_resource(show_spinner=False)
def _library(root: str) -> DomainLibrary:
    return DomainLibrary(root)


def get_store() -> RunStore:
    return _store(home())


def get_queue() -> JobQueue:
    return _queue(home())


def get_library() -> DomainLibrary:
    return _library(home())


@st.cache_resource(show_spinner=False)
def _worker_started(root: str) -> bool:
    from tlcore.jobs.worker import ensure_worker

    return ensure_worker(root)


def ensure_worker_once() -> None:
    """Start the job worker for this data root unless one runs (skipped with TL_NO_AUTOWORKER=1)."""
    if settings.get_bool("TL_NO_AUTOWORKER"):
        return
    _worker_started(home())


def demo_spec(demo: str = DEFAULT_DEMO) -> dict:
    return {"demo": demo}


def chosen_pair() -> tuple[dict, dict]:
    """The pair chosen on the Domains page, defaulting to the digits demo."""
    src = st.session_state.get(SOURCE_SPEC) or demo_spec()
    tgt = st.session_state.get(TARGET_SPEC) or demo_spec()
    return dict(src), dict(tgt)


def set_pair(source: dict, target: dict, label: str) -> None:
    """The pair chosen on the Domains page: kept in the session and in the user's settings file (data root)."""
    st.session_state[SOURCE_SPEC] = dict(source)
    st.session_state[TARGET_SPEC] = dict(target)
    st.session_state[PAIR_LABEL] = label
    update_settings(home(), current_user(), pair={"source": dict(source), "target": dict(target), "label": label})


def current_user() -> str | None:
    """The signed-in user (None when sign-in is off: the settings then belong to the ``local`` user)."""
    return st.session_state.get("tl_user")  # ui.auth.USER (not imported: ui.auth imports this module)


def restore_settings() -> None:
    """Once per session and user: load the stored pair and Train settings ($TL_HOME/settings/<user>.json)."""
    user = current_user() or ""
    if st.session_state.get(RESTORED) == user:
        return
    st.session_state[RESTORED] = user
    stored = load_settings(home(), current_user())
    pair = stored.get("pair") or {}
    if pair.get("source") and pair.get("target") and SOURCE_SPEC not in st.session_state:
        st.session_state[SOURCE_SPEC] = dict(pair["source"])
        st.session_state[TARGET_SPEC] = dict(pair["target"])
        st.session_state[PAIR_LABEL] = pair.get("label") or ""
    st.session_state[SAVED_TRAIN] = dict(stored.get("train") or {})
    st.session_state[BATCH] = list(stored.get("batch") or [])


def set_batch(job_ids: list[str]) -> None:
    """Remember the job ids of the last "Run all strategies" (session and settings file): its summary is shown
    when every job has finished, also after a reload."""
    st.session_state[BATCH] = list(job_ids)
    update_settings(home(), current_user(), batch=list(job_ids))


def save_train_settings(modality: str, values: dict) -> None:
    """Store this modality's Train settings for the user (only when they changed)."""
    saved = dict(st.session_state.get(SAVED_TRAIN) or {})
    if saved.get(modality) == values:
        return
    saved[modality] = dict(values)
    st.session_state[SAVED_TRAIN] = saved
    update_settings(home(), current_user(), train=saved)


def nonce() -> str:
    """The current submit nonce (created on first use; renewed after a successful submit)."""
    if SUBMIT_NONCE not in st.session_state:
        st.session_state[SUBMIT_NONCE] = uuid.uuid4().hex
    return st.session_state[SUBMIT_NONCE]


def renew_nonce() -> None:
    st.session_state[SUBMIT_NONCE] = uuid.uuid4().hex
