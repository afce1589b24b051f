"""Train: pick backbone, strategy and settings for the chosen pair, queue runs, watch them live."""
from __future__ import annotations

import hashlib

import streamlit as st

from tlcore.config import RunConfig
from tlcore.recommend import has_gpu, recommend, source_only_twin
from tlcore.errors import TLError
from tlcore.models.registry import BACKBONES
from tlcore.models.counting import counting_enabled, request_count
from tlcore.runs.store import default_root
from tlcore.strategies.specs import SPECS
from tlcore.sweeps import strategy_batch
from tlcore.validation import validate
from ui import state, train_settings
from ui.backbone_ranking import backbone_ranking
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.safe import md
from ui.forms import params_form
from ui.jobs_panel import jobs_panel

DEFAULTS = {m: recommend(m, gpu=has_gpu()) for m in ("image", "text")}  # the recommended default
DEMO_MODALITY = {"digits": "image", "reviews": "text"}
DEMO_CLASSES = {"digits": 10, "reviews": 2}


def parameter_count(*choice) -> None:
    """The trainable-parameter caption. The count is computed by the engine in a background process
    (``python -m tlcore count-params``, stored per choice); this page never builds a model."""
    if not counting_enabled():
        st.caption("Trainable parameters: counted when the job starts (TL_PARAM_COUNT=0 on this server).")
        return
    root = default_root()
    rep = request_count(root, *choice)
    if rep["status"] == "done":
        st.caption(f"Trainable parameters: {rep['trainable']:,} of {rep['total']:,}")
    elif rep["status"] == "failed":
        st.warning("Could not count parameters: " + md(str(rep.get("detail", ""))[-500:]))
    else:
        _count_pending(root, choice)


@st.fragment(run_every=1.5)
def _count_pending(root, choice) -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    if request_count(root, *choice)["status"] != "running":  # starts it when its turn comes
        st.rerun()
    st.caption("Trainable parameters: counting in the background…")


def pair_options() -> tuple[dict, int]:
    """(label -> (source spec, target spec), index of the pair chosen on the Domains page): that choice first
    (a demo pair chosen there is its demo option), then the demo pairs."""
    out = {}
    src, tgt = state.chosen_pair()
    chosen_demo = src.get("demo") if src.get("demo") and src == tgt else None
    if not chosen_demo:
        label = st.session_state.get(state.PAIR_LABEL) or "chosen on the Domains page"
        out[f"{label} (from the Domains page)"] = (src, tgt)
    for demo in DEMO_MODALITY:
        out[f"demo: {demo} (generated)"] = ({"demo": demo}, {"demo": demo})
    index = list(DEMO_MODALITY).index(chosen_demo) if chosen_demo in DEMO_MODALITY else 0
    return out, index


def spec_info(spec: dict) -> tuple[str | None, int]:
    """(modality, number of classes) without reading the data."""
    if spec.get("demo"):
        return DEMO_MODALITY.get(spec["demo"]), DEMO_CLASSES.get(spec["demo"], 2)
    entry = next((e for e in state.get_library().list() if e["path"] == spec.get("path")), None)
    return (entry["modality"], max(2, len(entry["classes"]))) if entry else (None, 2)


def backbone_label(name: str) -> str:
    """Short enough for the picker (the speed goes in the caption below it, where it is not cut off)."""
    s = BACKBONES[name]
    return f"{s.title} · {s.params_m:g} M params"


def config_digest(cfg: dict) -> str:
    """The settings' identity: equal for configs that would train the same run."""
    return hashlib.sha256(RunConfig.from_dict(cfg).to_json().encode()).hexdigest()[:16]


def submit(configs: list[tuple[str, dict]], allow_repeat: bool) -> list[str]:
    """Queue each config unless identical settings are already queued or running (any session), which catches
    double clicks and repeated presses; ``allow_repeat`` queues a second copy anyway. Returns the ids of the jobs
    now holding these settings (queued now, or already queued or running)."""
    queue = state.get_queue()
    waiting = {config_digest(s.config): s.job_id for s in queue.list(limit=500, active_only=True)
               if s.kind == "train"}
    queued, repeated = [], []
    for label, cfg in configs:
        digest = config_digest(cfg)
        if digest in waiting and not allow_repeat:
            repeated.append(waiting[digest])
            continue
        try:
            job_id = queue.submit(cfg, submit_key=f"{state.nonce()}:{digest}", owner=signed_in_user())
        except TLError as exc:
            st.error(f"{md(label)}: {md(exc)}")
            continue
        queued.append(job_id)
    state.renew_nonce()  # the next press is a new submit (identical settings are caught above)
    st.session_state[state.LAST_JOBS] = queued
    if queued:
        st.success(f"Queued {len(queued)} job(s): {md(', '.join(queued))}")
    if repeated:
        st.info(f"Not queued again: identical settings are already queued or running ({md(', '.join(repeated))}). "
                "Tick 'Queue identical settings again' to queue another copy (same seed: expect the same result).")
    return queued + repeated


# -- page ------------------------------------------------------------------------------------------
require_sign_in()  # also here: a fresh server may serve this file directly on its first request
state.restore_settings()  # the pair and settings this user chose last time (kept in the data root)
st.title("Train")
options, chosen_index = pair_options()
pair_label = st.selectbox("Domain pair (source → target)", list(options), key="train-pair", index=chosen_index,
                          help="Defaults to the pair chosen on the Domains page.")
source, target = options[pair_label]
modality, num_classes = spec_info(source)
if modality is None:
    st.error("The chosen domain is no longer in the library; choose it again on the Domains page.")
    st.stop()
if spec_info(target)[0] != modality:
    st.error("Source and target have different modalities (image vs text); choose a matching pair.")
    st.stop()
defaults = DEFAULTS[modality]
changed = train_settings.prepare(modality, pair_label, DEFAULTS)
if changed:
    st.info("This pair holds " + md(modality) + " data, so some settings changed: " + md("; ".join(changed)) + ". "
            "Everything else you set stays as it was.", icon=":material/info:")

left, right = st.columns(2)
with left:
    names = sorted((n for n, s in BACKBONES.items() if s.modality == modality),
                   key=lambda n: (not BACKBONES[n].embedded, n != defaults["backbone"], n))
    backbone = st.selectbox("Backbone", names, key=f"backbone-{modality}", format_func=backbone_label,
                            help="Embedded backbones load offline; the others need weights cached on the server.")
    backbone_ranking(source)
    if BACKBONES[backbone].speed:
        st.caption(f"Speed: {BACKBONES[backbone].speed}")
    strategies = list(SPECS)
    strategy = st.selectbox("Strategy", strategies, key=f"strategy-{modality}",
                            index=strategies.index(defaults["strategy"]) if defaults["strategy"] in strategies else 0,
                            format_func=lambda n: SPECS[n].title)
    if strategy == defaults["strategy"]:
        st.caption(":material/recommend: Recommended default for " + md(modality) + " with an unlabeled target: "
                   + md(defaults["evidence"]) + ". With target labels: " + md(recommend(modality, 0.1)["strategy"])
                   + ". The CLI and API get it with `\"strategy\": \"auto\"`.")
    st.caption(SPECS[strategy].describe()["doc"])
    st.markdown("**Strategy parameters**")
    params = params_form(SPECS[strategy], key_prefix=f"params-{modality}",  # per modality: defaults differ
                         defaults=defaults["params"] if strategy in (defaults["strategy"], "fine_tuning", "multitask")
                         else {k: v for k, v in defaults["params"].items() if k != "freeze_backbone"})
with right:
    st.markdown("**Common settings**")
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 1, 1000, int(defaults["epochs"]), key=f"epochs-{modality}")
    batch = c2.number_input("Batch size", 1, 4096, int(defaults["batch_size"]), key=f"batch-{modality}")
    lr = c1.text_input("Learning rate", str(defaults["lr"]), key=f"lr-{modality}")
    if modality == "image":
        size = c2.number_input("Image size (px)", 16, 1024, int(defaults.get("image_size", 64)), step=16,
                               key="image_size")
    else:
        size = c2.number_input("Max length (tokens)", 8, 2048, int(defaults.get("max_length", 64)), key="max_length")
    max_samples = c1.number_input("Max samples per domain (0 = all)", 0, 10**8, 0, step=100, key="max_samples")
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
    labeled = c1.slider("Target labeled fraction", 0.0, 1.0, 0.0, 0.05, key="labeled_fraction",
                        help="Share of target training samples whose labels a strategy may use (0 = unsupervised).")
    augment = c2.checkbox("Augment", False, key="augment",
                          help="Images, when the backbone trains: a policy that fits the classes (no flips for digits "
                               "or characters; crops, flips and colour jitter for photos).")
    keep_last = c2.checkbox("Keep the last epoch", SPECS[strategy].requires.needs_target, key=f"keep-last-{strategy}",
                            help="On: the weights of the last epoch (adaptation: source validation picks the wrong "
                                 "epoch under shift; no early stopping). Off: the best source-validation epoch.")
    bottleneck = c1.number_input("Bottleneck width (0 = none)", 0, 8192, int(defaults.get("bottleneck", 0)), step=64,
                                 key="bottleneck",
                                 help="A trainable Linear + BatchNorm + ReLU layer between the backbone and the "
                                      "head; alignment losses act on it. Needed for adaptation with a frozen "
                                      "backbone (strategy parameter freeze_backbone); 256 is the usual width.")
    views = views_set = 0  # views_set: the widget (remembered); views: what this strategy uses
    frozen = SPECS[strategy].requires.frozen_backbone or bool(params.get("freeze_backbone"))
    if modality == "image":
        views_set = c2.number_input("Augmented feature views", 0, 16, int(defaults.get("feature_views", 0)),
                                key="feature_views", disabled=not frozen,
                                help="Frozen backbone only: also cache the features of N augmented copies of every "
                                     "source training image (the Augment policy: no flips for digits); each "
                                     "training step draws the clean features or one view per sample. Costs N more "
                                     "passes over the source once. The image default uses 2: +2.4 points on "
                                     "USPS -> MNIST and +2.3 on amazon -> webcam (3 seeds), within 0.6 on the "
                                     "other Office pairs (bench/results/defaults_findings.md). Not used when "
                                     "the backbone trains (use Augment there).")
        views = views_set if frozen else 0

train_settings.remember(modality, {
    "backbone": backbone, "strategy": strategy, "epochs": epochs, "batch_size": batch, "lr": lr,
    ("image_size" if modality == "image" else "max_length"): size, "max_samples": max_samples, "seed": seed,
    "labeled_fraction": labeled, "augment": augment, "bottleneck": bottleneck,
    **({"feature_views": views_set} if modality == "image" else {})})
config = {
    "source": dict(source), "target": {**target, "labeled_fraction": labeled},
    "backbone": backbone, "strategy": strategy, "params": params, "epochs": epochs, "batch_size": batch, "lr": lr,
    ("image_size" if modality == "image" else "max_length"): size,
    "max_samples_per_domain": max_samples or None, "seed": seed, "augment": augment, "bottleneck": bottleneck,
    **({"feature_views": views} if views else {}),
    "checkpoint": "last" if keep_last else "best_val", **({"early_stopping_patience": 0} if keep_last else {}),
}
error = None
try:
    validate(RunConfig.from_dict(config))
except TLError as exc:
    error = str(exc)
    st.error(f"Invalid setting: {md(error)}")

if error is None:
    parameter_count(backbone, strategy, params, num_classes, bottleneck)

b1, b2, b4, b3 = st.columns([1, 1, 1.3, 1.7])
allow_repeat = b3.checkbox("Queue identical settings again", key="allow-repeat",
                           help="Off: pressing a button while identical settings are queued or running does not "
                                "queue a duplicate. On: queue another copy anyway (e.g. to time it again).")
if b1.button("Start run", type="primary", disabled=error is not None, key="start-run"):
    submit([(strategy, config)], allow_repeat)
if b4.button("Show what transfer buys", disabled=error is not None or strategy == "fine_tuning", key="transfer-pair",
             help="Two jobs on the same split: this strategy and its source-only twin (fine_tuning, same network and "
                  "settings, no transfer loss, best source-validation epoch). When both finish, the card below says "
                  "the gain with a paired test; Compare shows both."):
    state.set_batch(submit([("source-only", source_only_twin(config)), (strategy, config)], allow_repeat)
                    or st.session_state.get(state.BATCH) or [])
if b2.button("Run all strategies", disabled=error is not None, key="run-all",
             help="One job per strategy, same data split and seed, as a sweep builds them: the other strategies "
                  "keep the parameters they share with this one (e.g. freeze backbone, trainable groups) and "
                  "use their defaults for the rest."):
    runnable, skipped = strategy_batch(config)  # the sweep's rule: shared parameter fields carry over
    state.set_batch(submit(runnable, allow_repeat) or st.session_state.get(state.BATCH) or [])
    if skipped:
        st.info("Not queued, not applicable to these settings: " + md("; ".join(skipped)))

jobs_panel(batch=st.session_state.get(state.BATCH))
