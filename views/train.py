"""Train: pick backbone, strategy and settings for the chosen pair, queue runs, watch them live."""
from __future__ import annotations

import streamlit as st

from tlcore.recommend import recommend, source_only_twin
from tlcore.models.registry import BACKBONES
from tlcore.jobs.light import request_count
from tlcore.models.counting import counting_enabled
from tlcore.runs.store import default_root
from tlcore.strategies.specs import SPECS
from tlcore.sweeps import strategy_batch
from ui import state, train_settings
from ui.backbone_ranking import backbone_ranking
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.safe import md
from ui.forms import params_form
from ui.jobs_panel import jobs_panel
from ui.train_config import build_config, pair_options, remembered_settings, spec_info, strategy_param_defaults
from ui.train_config import backbone_choices, config_error, recommended_defaults, uses_feature_views
from ui.train_config import AUTO, auto_description, strategy_options, strategy_title
from tlcore.recommend import has_gpu, resolve_auto
from ui.train_submission import submit


def parameter_count(*choice) -> None:
    """The trainable-parameter caption. The count is computed by a ``count`` job of the queue (stored per choice;
    the signed-in user owns it); this page never builds a model."""
    if not counting_enabled():
        st.caption("Trainable parameters: counted when the job starts (TL_PARAM_COUNT=0 on this server).")
        return
    root = default_root()
    rep = request_count(root, *choice, owner=signed_in_user())
    if rep["status"] == "done":
        st.caption(f"Trainable parameters: {rep['trainable']:,} of {rep['total']:,}")
    elif rep["status"] == "failed":
        st.warning("Could not count parameters: " + md(str(rep.get("detail", ""))[-500:]))
    elif rep["status"] == "cancelled":
        st.caption("Trainable parameters: not counted (the count job was cancelled).")
    else:
        _count_pending(root, choice)


@st.fragment(run_every=1.5)
def _count_pending(root, choice) -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    if request_count(root, *choice, owner=signed_in_user())["status"] != "running":  # queued when its turn comes
        st.rerun()
    st.caption("Trainable parameters: counting in the background…")


def backbone_label(name: str) -> str:
    """Short enough for the picker (the speed goes in the caption below it, where it is not cut off)."""
    s = BACKBONES[name]
    return f"{s.title} · {s.params_m:g} M params"


def choose_pair() -> tuple[str, dict, dict, str, int]:
    """(pair label, source spec, target spec, modality, number of classes); stops the page on an unusable pair."""
    options, chosen_index = pair_options(*state.chosen_pair(), st.session_state.get(state.PAIR_LABEL))
    pair_label = st.selectbox("Domain pair (source → target)", list(options), key="train-pair", index=chosen_index,
                              help="Defaults to the pair chosen on the Domains page.")
    source, target = options[pair_label]
    library = state.get_library().list()
    modality, num_classes = spec_info(source, library)
    if modality is None:
        st.error("The chosen domain is no longer in the library; choose it again on the Domains page.")
        st.stop()
    if spec_info(target, library)[0] != modality:
        st.error("Source and target have different modalities (image vs text); choose a matching pair.")
        st.stop()
    return pair_label, source, target, modality, num_classes


def model_column(modality: str, defaults: dict, source: dict) -> tuple[str, str, dict]:
    """(backbone, strategy, strategy parameters): the pickers, the backbone ranking and the strategy's form."""
    strategies = strategy_options()
    strategy = st.selectbox("Strategy", strategies, key=f"strategy-{modality}", index=0, format_func=strategy_title)
    auto = strategy == AUTO
    backbone = st.selectbox("Backbone", backbone_choices(modality, defaults["backbone"]), key=f"backbone-{modality}",
                            format_func=backbone_label, disabled=auto,
                            help="Embedded backbones load offline; the others need weights cached on the server. "
                                 "Auto picks the network itself.")
    if auto:
        st.caption(":material/recommend: " + md(auto_description(modality, has_gpu())))
        return backbone, strategy, {}
    backbone_ranking(source)
    if BACKBONES[backbone].speed:
        st.caption(f"Speed: {BACKBONES[backbone].speed}")
    if strategy == defaults["strategy"]:
        st.caption(":material/recommend: Recommended default for " + md(modality) + " with an unlabeled target: "
                   + md(defaults["evidence"]) + ". With target labels: " + md(recommend(modality, 0.1)["strategy"])
                   + ". The CLI and API get it with `\"strategy\": \"auto\"`.")
    st.caption(SPECS[strategy].describe()["doc"])
    st.markdown("**Strategy parameters**")
    params = params_form(SPECS[strategy], key_prefix=f"params-{modality}",  # per modality: defaults differ
                         defaults=strategy_param_defaults(strategy, defaults))
    return backbone, strategy, params


def settings_column(modality: str, defaults: dict, strategy: str, params: dict) -> dict:
    """The common settings: ``ui.train_config.build_config``'s ``settings`` other than backbone and strategy."""
    st.markdown("**Common settings**")
    auto = strategy == AUTO  # each recipe of auto brings its own schedule: only pair, size, seed and labels apply
    if auto:
        st.caption("Auto sets epochs, batch size, learning rate, input size and augmentation per recipe.")
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 1, 1000, int(defaults["epochs"]), key=f"epochs-{modality}", disabled=auto)
    batch = c2.number_input("Batch size", 1, 4096, int(defaults["batch_size"]), key=f"batch-{modality}", disabled=auto)
    lr = c1.text_input("Learning rate", str(defaults["lr"]), key=f"lr-{modality}", disabled=auto)
    if modality == "image":
        size = c2.number_input("Image size (px)", 16, 1024, int(defaults.get("image_size", 64)), step=16,
                               key="image_size", disabled=auto)
    else:
        size = c2.number_input("Max length (tokens)", 8, 2048, int(defaults.get("max_length", 64)), key="max_length",
                               disabled=auto)
    max_samples = c1.number_input("Max samples per domain (0 = all)", 0, 10**8, 0, step=100, key="max_samples")
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
    labeled = c1.slider("Target labeled fraction", 0.0, 1.0, 0.0, 0.05, key="labeled_fraction",
                        help="Share of target training samples whose labels a strategy may use (0 = unsupervised).")
    augment = c2.checkbox("Augment", False, key="augment", disabled=auto,
                          help="Images, when the backbone trains: a policy that fits the classes (no flips for digits "
                               "or characters; crops, flips and colour jitter for photos).")
    keep_last = c2.checkbox("Keep the last epoch", auto or SPECS[strategy].requires.needs_target, disabled=auto,
                            key=f"keep-last-{strategy}",
                            help="On: the weights of the last epoch (adaptation: source validation picks the wrong "
                                 "epoch under shift; no early stopping). Off: the best source-validation epoch.")
    bottleneck = c1.number_input("Bottleneck width (0 = none)", 0, 8192, int(defaults.get("bottleneck", 0)), step=64,
                                 key="bottleneck", disabled=auto,
                                 help="A trainable Linear + BatchNorm + ReLU layer between the backbone and the "
                                      "head; alignment losses act on it. Needed for adaptation with a frozen "
                                      "backbone (strategy parameter freeze_backbone); 256 is the usual width.")
    views_set = 0  # the widget's value (remembered); the config uses it only with a frozen backbone
    if modality == "image":
        views_set = c2.number_input("Augmented feature views", 0, 16, int(defaults.get("feature_views", 0)),
                                    key="feature_views", disabled=not uses_feature_views(strategy, params),
                                    help="Frozen backbone only: also cache the features of N augmented copies of "
                                         "every source training image (the Augment policy: no flips for digits); "
                                         "each training step draws the clean features or one view per sample. "
                                         "Costs N more passes over the source once. The image default uses 2: "
                                         "+2.4 points on USPS -> MNIST and +2.3 on amazon -> webcam (3 seeds), "
                                         "within 0.6 on the other Office pairs "
                                         "(bench/results/defaults_findings.md). Not used when the backbone "
                                         "trains (use Augment there).")
    return {"epochs": epochs, "batch_size": batch, "lr": lr, "size": size, "max_samples": max_samples, "seed": seed,
            "labeled_fraction": labeled, "augment": augment, "bottleneck": bottleneck, "feature_views": views_set,
            "keep_last": keep_last}


def queue_buttons(config: dict, strategy: str, error: str | None) -> None:
    """Start run, Run all strategies, Show what transfer buys (disabled while the settings are invalid)."""
    b1, b2, b4, b3 = st.columns([1, 1, 1.3, 1.7])
    allow_repeat = b3.checkbox("Queue identical settings again", key="allow-repeat",
                               help="Off: pressing a button while identical settings are queued or running does not "
                                    "queue a duplicate. On: queue another copy anyway (e.g. to time it again).")
    if b1.button("Start run", type="primary", disabled=error is not None, key="start-run"):
        submit([(strategy, config)], allow_repeat)
    if b4.button("Show what transfer buys", disabled=error is not None or strategy == "fine_tuning", key="transfer-pair",
                 help="Two jobs on the same split: this strategy and its source-only twin (fine_tuning, same network and "
                      "settings, no transfer loss, best source-validation epoch). When both finish, the card below says "
                      "the gain with a paired test; Compare shows both. Auto runs each network's source-only twin among "
                      "its recipes: one job, whose card compares the pick with its twin."):
        if strategy == AUTO:
            submit([(strategy, config)], allow_repeat)
        else:
            state.set_batch(submit([("source-only", source_only_twin(config)), (strategy, config)], allow_repeat)
                            or st.session_state.get(state.BATCH) or [])
    if b2.button("Run all strategies", disabled=error is not None, key="run-all",
                 help="One job per strategy, same data split and seed, as a sweep builds them: the other strategies "
                      "keep the parameters they share with this one (e.g. freeze backbone, trainable groups) and "
                      "use their defaults for the rest."):
        base = resolve_auto(config, gpu=has_gpu()) if strategy == AUTO else config  # auto: its recommended recipe
        runnable, skipped = strategy_batch(base)  # the sweep's rule: shared parameter fields carry over
        state.set_batch(submit(runnable, allow_repeat) or st.session_state.get(state.BATCH) or [])
        if skipped:
            st.info("Not queued, not applicable to these settings: " + md("; ".join(skipped)))


def render() -> None:
    """The Train page: pair, backbone, strategy and settings, then the queue buttons and the jobs panel."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    state.restore_settings()  # the pair and settings this user chose last time (kept in the data root)
    st.title("Train")
    pair_label, source, target, modality, num_classes = choose_pair()
    all_defaults = recommended_defaults()
    defaults = all_defaults[modality]
    changed = train_settings.prepare(modality, pair_label, all_defaults)
    if changed:
        st.info("This pair holds " + md(modality) + " data, so some settings changed: " + md("; ".join(changed)) + ". "
                "Everything else you set stays as it was.", icon=":material/info:")
    left, right = st.columns(2)
    with left:
        backbone, strategy, params = model_column(modality, defaults, source)
    with right:
        settings = {"backbone": backbone, "strategy": strategy,
                    **settings_column(modality, defaults, strategy, params)}
    train_settings.remember(modality, remembered_settings(modality, settings))
    config = build_config(source, target, modality, settings, params)
    error = config_error(config)
    if error is not None:
        st.error(f"Invalid setting: {md(error)}")
    elif strategy == AUTO:
        st.caption("Trainable parameters: those of the recipe auto picks (shown on the run).")
    else:
        parameter_count(backbone, strategy, params, num_classes, settings["bottleneck"])
    queue_buttons(config, strategy, error)
    jobs_panel(batch=st.session_state.get(state.BATCH))


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
