"""Domains -> Train hand-off and settings that persist per user (issue 16, item 2)."""
from __future__ import annotations

from apptest_paths import TIMEOUT, page
from streamlit.testing.v1 import AppTest

from tlcore.recommend import recommend

from tlcore.user_settings import carry_over, load_settings, save_settings, settings_path
from ui import state


def domains_with(demo: str) -> AppTest:
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    at.selectbox(key="dom-demo-source").set_value(demo).run()
    at.selectbox(key="dom-demo-target").set_value(demo).run()
    assert not at.exception
    return at


def test_demo_pair_chosen_on_domains_is_used_by_train_in_another_session(tl_home):
    domains_with("reviews")
    assert load_settings(tl_home, None)["pair"]["source"] == {"demo": "reviews"}  # stored in the data root
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()          # a new session
    assert not at.exception
    assert at.selectbox(key="train-pair").value == "demo: reviews (generated)"
    assert at.selectbox(key="backbone-text").value  # the text form is shown


def test_saved_pair_survives_a_new_session(tl_home):
    import io

    from tlcore.data.library import DomainLibrary

    csv = b"text,label\n" + b"".join(b"nice thing %d,pos\nbad thing %d,neg\n" % (i, i) for i in range(10))
    e = DomainLibrary(tl_home).ingest_upload("books", "books.csv", io.BytesIO(csv))
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    at.radio(key="dom-kind-source").set_value("Saved domain").run()
    at.radio(key="dom-kind-target").set_value("Saved domain").run()
    assert not at.exception
    fresh = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    assert not fresh.exception
    assert fresh.selectbox(key="train-pair").value == "books → books (from the Domains page)"
    again = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()    # the Domains page remembers too
    assert again.radio(key="dom-kind-source").value == "Saved domain"
    assert again.selectbox(key="dom-saved-source").value == e["domain_id"]


def test_switching_the_pair_keeps_choices_and_says_what_changed(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("dann").run()
    at.number_input(key="epochs-image").set_value(7).run()
    image_bb = at.selectbox(key="backbone-image").value
    at.selectbox(key="train-pair").set_value("demo: reviews (generated)").run()
    assert not at.exception
    assert at.selectbox(key="strategy-text").value == "dann"        # the user's choice stays
    assert at.number_input(key="epochs-text").value == 7
    notice = " ".join(i.value.replace("\\", "") for i in at.info)
    assert f"backbone: {image_bb} → " in notice and "cannot read text" in notice
    assert "strategy" not in notice.split("changed:")[1] and "epochs" not in notice
    img, txt = recommend("image"), recommend("text")
    if img.get("lr") is not None and txt.get("lr") is not None and img["lr"] != txt["lr"]:  # lr kept at its default:
        assert f"lr: {img['lr']} → {txt['lr']}" in notice                                 # the text default, said
        assert at.text_input(key="lr-text").value == str(txt["lr"])


def test_train_settings_persist_across_sessions(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("mcc").run()
    at.number_input(key="epochs-image").set_value(12).run()
    at.number_input(key="seed").set_value(3).run()
    fresh = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    assert fresh.number_input(key="epochs-image").value == 12 and fresh.number_input(key="seed").value == 3


def test_settings_are_per_user(tl_home):
    save_settings(tl_home, "ana", {"pair": {"source": {"demo": "reviews"}, "target": {"demo": "reviews"}}})
    assert load_settings(tl_home, "bob") == {} and load_settings(tl_home, None) == {}
    assert settings_path(tl_home, "../../etc/x").parent == tl_home / "settings"
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.run()
    assert at.session_state[state.SOURCE_SPEC] == {"demo": "reviews"}


def test_carry_over_rules():
    img = {"backbone": "efficientnet_lite0", "strategy": "linear_probe", "epochs": 30, "lr": 1e-3, "batch_size": 64}
    txt = {"backbone": "minilm_l6", "strategy": "fine_tuning", "epochs": 3, "lr": 1e-4, "batch_size": 32}
    out, changes = carry_over(dict(img), img, txt, "image", "text")
    assert out == txt and len(changes) == 5          # all defaults: the text defaults, each one said
    out, changes = carry_over({"backbone": "tiny_cnn", "epochs": 5}, {}, {}, "image", "text")
    assert out == {"epochs": 5} and changes == ["backbone: tiny_cnn → a text one (image backbones cannot read text)"]
    out, changes = carry_over({**img, "strategy": "mcc", "lr": "0.01"}, img, txt, "image", "text")
    assert out["strategy"] == "mcc" and out["lr"] == "0.01" and len(changes) == 3


def test_strategy_parameters_follow_the_modality_of_the_pair(tl_home):
    """The recommended parameters differ per modality (images: frozen features; texts on a CPU: the last layer
    trains): switching the pair shows the other modality's own defaults, not the values of the first form."""
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="train-pair").set_value("demo: reviews (generated)").run()
    at.selectbox(key="strategy-text").set_value("mcc").run()  # the recommended recipe (auto, the default, has no form)
    assert at.number_input(key="params-text.mcc.train_last_groups").value == 1
    assert at.checkbox(key="params-text.mcc.freeze_backbone").value is False
    at.selectbox(key="train-pair").set_value("demo: digits (generated)").run()
    assert not at.exception
    at.selectbox(key="strategy-image").set_value("mcc").run()
    assert at.checkbox(key="params-image.mcc.freeze_backbone").value is True
    assert at.number_input(key="params-image.mcc.train_last_groups").value == 0
