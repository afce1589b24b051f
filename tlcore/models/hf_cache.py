"""Whether a Hugging Face backbone can be had before a run starts (issue 22 item 10): the local cache is looked
at first, without any network; an uncached model on an offline server fails at once, and an online download
attempt of its ``config.json`` is made (with short timeouts) before a run row or folder exists, so an
unreachable hub is one clear line instead of a failed run. Torch-free (``huggingface_hub`` only, imported lazily).
"""
from __future__ import annotations

import os
from pathlib import Path

from tlcore.errors import ModelError

OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TL_OFFLINE")
PROBE_TIMEOUT_S = 10


def offline() -> bool:
    """Any of the offline flags set (job processes get HF_HUB_OFFLINE=1 unless the operator allows downloads)."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on") for k in OFFLINE_FLAGS)


def cached(repo_id: str) -> bool:
    """True when the model's config.json is in the local Hugging Face cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - an invalid repo id is simply not cached
        return False


def not_reachable(name: str) -> ModelError:
    return ModelError(f"backbone {name!r}: Hugging Face weights are not reachable here: not in the Hugging Face "
                      "cache and this server is offline (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE/TL_OFFLINE); copy the "
                      "model folder to the server and give its path as the backbone, or pre-download it into the "
                      "cache")


def preflight(backbone: str, family: str) -> None:
    """Raise :class:`ModelError` (one line) when a Hugging Face backbone cannot be had: called before a run row
    is written. Other families and local folders pass (their loaders check them)."""
    if family != "hf":
        return
    repo = backbone[3:] if backbone.startswith("hf:") else backbone
    if Path(repo).is_dir() or cached(repo):
        return
    if offline():
        raise not_reachable(repo)
    # online: one request for the small config now (no retries), so an unreachable hub or a wrong name fails
    # before the run exists; the loader downloads the weights later
    import urllib.error
    import urllib.request

    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    why = ""
    try:
        req = urllib.request.Request(hf_hub_url(repo, "config.json"), method="HEAD", headers=build_hf_headers())
        with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S):
            return
    except urllib.error.HTTPError as exc:
        why = f"HTTP {exc.code}" + (": no such model, or a private one without a token" if exc.code in (401, 404)
                                    else "")
    except Exception as exc:  # noqa: BLE001 - no network, refused, timed out, a bad name: one clear line
        why = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:200]
    raise ModelError(f"backbone {repo!r}: not in the Hugging Face cache and it could not be downloaded ({why}); "
                     "check the name and the network, or copy the model folder to the server and give its path as "
                     "the backbone")
