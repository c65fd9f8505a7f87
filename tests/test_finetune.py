"""Fine-tuning on a person's corrected pages (htr.finetune), the models list and ``model=`` on
reads (web.models, web.engine): a tiny workspace of real line images written as PAGE-XML, the
shipped model fine-tuned on it for a few short epochs (loss falls, the folder saves, loads and is
listed with its card), typed names joining the lexicon, reads naming a model, and "Learn my
handwriting" run through the API on a tiny model."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHIPPED_FIXTURES, draw_text
from htr.export import page_xml
from htr.finetune import (FinetuneConfig, add_words_to_lexicons, finetune, page_of, read_card,
                          split_by_page, typed_words)
from htr.readers import open_data
from htr.recognizer import DEFAULT_MODEL
from htr.results import Line, Page
from test_app import validate

#: Real English line crops of the shipped fixtures and their texts.
LINES = [(name, text) for name, text in (
    line.split("\t") for line in Path(SHIPPED_FIXTURES, "labels.tsv").read_text().splitlines())
    if name.startswith("line-") and "copiste" not in name]


def write_page(folder: Path, stem: str, crops: list[tuple[np.ndarray, str]]) -> None:
    """One page of line crops stacked on white, with its PAGE-XML (htr.export.page_xml)."""
    width = max(c.shape[1] for c, _ in crops) + 40
    rows, lines, y = [np.full((20, width), 255, np.uint8)], [], 20
    for crop, text in crops:
        h, w = crop.shape
        row = np.full((h, width), 255, np.uint8)
        row[:, 20:20 + w] = crop
        rows += [row, np.full((16, width), 255, np.uint8)]
        lines.append(Line(box=(20, y, 20 + w, y + h), text=text, confidence=1.0))
        y += h + 16
    image = np.vstack(rows)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{stem}.png"), image)
    page = Page(width=image.shape[1], height=image.shape[0], lines=tuple(lines))
    (folder / f"{stem}.xml").write_bytes(page_xml(page, f"{stem}.png"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Three pages of two real lines each; a name the lexicon lacks is typed on one of them."""
    folder = tmp_path_factory.mktemp("workspace") / "pages"
    crops = [(cv2.imread(str(Path(SHIPPED_FIXTURES, n)), cv2.IMREAD_GRAYSCALE), t) for n, t in LINES]
    for i in range(3):
        write_page(folder, f"page{i}", crops[2 * i:2 * i + 2])
    return folder


@pytest.fixture(scope="module")
def tuned(workspace, tmp_path_factory):
    """The shipped model fine-tuned on the workspace for three short epochs."""
    output = tmp_path_factory.mktemp("models") / "my-hand"
    progress: list[float] = []
    result = finetune(DEFAULT_MODEL, [f"pagexml:{workspace}"], output,
                      FinetuneConfig(max_epochs=3, epoch_size=16, batch_size=4, patience=5,
                                     learning_rate=1e-3, mix=1.0),
                      progress=lambda fraction, message: progress.append(fraction))
    return result, output, progress


def test_pages_are_held_back_whole(workspace):
    samples = open_data(f"pagexml:{workspace}")
    train, held = split_by_page(samples, 0.3)
    assert len(samples) == 6 and held and train
    assert not {page_of(s) for s in train} & {page_of(s) for s in held}
    assert split_by_page(samples[:2], 0.3) == (samples[:2], [])  # one page: nothing held back


@pytest.mark.slow
def test_finetuning_learns_saves_and_loads(tuned):
    from htr.recognizer import Recognizer

    result, output, progress = tuned
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.train_pages == 2 and result.val_pages == 1 and result.val_lines == 2
    assert result.base_cer is not None and result.cer <= result.base_cer
    assert progress[-1] == 1.0 and progress == sorted(progress)
    card = read_card(output)
    assert card["base"] == str(DEFAULT_MODEL) and card["train_lines"] == 4
    assert "held back" in (output / "README.md").read_text()
    recognizer = Recognizer.load(output)  # calibration carried over and valid for these weights
    assert recognizer.calibration is not None
    assert recognizer.read([str(Path(SHIPPED_FIXTURES, LINES[0][0]))])[0].text


def test_typed_names_join_the_lexicon_and_can_be_read(tmp_path):
    from htr.lexicon import Lexicon
    from htr.text import Charset
    from htr.wordbeam import word_beam_search

    name = "Tarvey"
    base = Lexicon.load(DEFAULT_MODEL / "lexicon.npz")
    assert name.lower() not in base and "harvey" in base
    assert typed_words(["Dear Mr Tarvey,", "Tarvey's"]) == ["Dear", "Mr", "Tarvey", "Tarvey's"]
    assert add_words_to_lexicons(DEFAULT_MODEL, tmp_path, [name, "the"]) == 1
    grown = Lexicon.load(tmp_path / "lexicon.npz")
    assert name.lower() in grown and (tmp_path / "lexicon-fr.npz").is_file()
    # Frames that spell the name, its first letter written so that it might be an H (T 0.45,
    # H 0.4): the base lexicon pulls the reading to Harvey, the grown one keeps Tarvey.
    charset = Charset.load(DEFAULT_MODEL / "charset.json")
    probs = []
    for i, c in enumerate(name):
        for _ in range(2):
            p = np.full(charset.num_classes, 1e-4)
            p[charset.encode(c)[0]] = 0.9 if i else 0.45
            if i == 0:
                p[charset.encode("H")[0]] = 0.4
            probs.append(p / p.sum())
        blank = np.full(charset.num_classes, 1e-4)
        blank[Charset.BLANK] = 1.0
        probs.append(blank / blank.sum())
    probs = np.array(probs, np.float32)
    assert word_beam_search(probs, charset, base).text == "Harvey"
    assert word_beam_search(probs, charset, grown).text == name


# --- the web app ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tiny_model_dir, tuned, tmp_path_factory):
    from app import create_app

    models = tmp_path_factory.mktemp("models-dir")
    shutil.copytree(tuned[1], models / "my-hand")
    ws = tmp_path_factory.mktemp("ws")
    # The tiny model's charset is lower case: its workspace's lines are drawn lower case.
    write_page(ws / "pages", "drawn0", [(draw_text(t, 40), t) for t in ("the fox", "a dog")])
    write_page(ws / "pages", "drawn1", [(draw_text(t, 40), t) for t in ("harvey came", "to tea")])
    return create_app({
        "TESTING": True, "HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy"],
        "HTR_TESSERACT": False, "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False,
        "HTR_JOBS": False, "HTR_WORKSPACE": str(ws), "HTR_MODELS_DIR": str(models)})


def png(grey) -> bytes:
    return cv2.imencode(".png", grey)[1].tobytes()


@pytest.mark.slow
def test_models_are_listed_and_a_read_names_its_model(client, openapi, tiny_model_dir):
    listing = client.get("/api/v1/models").get_json()
    validate(openapi, "ModelList", listing)
    names = [m["name"] for m in listing["models"]]
    assert names == [tiny_model_dir.name, "my-hand"] and listing["default"] == tiny_model_dir.name
    mine = listing["models"][1]
    assert mine["base"] == "default" and mine["card"]["train_lines"] == 4 and not mine["loaded"]

    line = cv2.imread(str(Path(SHIPPED_FIXTURES, LINES[3][0])), cv2.IMREAD_GRAYSCALE)
    r = client.post("/api/v1/read", data={"file": (io.BytesIO(png(line)), "line.png"),
                                          "level": "line", "model": "my-hand"})
    assert r.status_code == 200
    validate(openapi, "Page", r.get_json())
    assert r.get_json()["model"] == "my-hand" and r.get_json()["text"]
    r = client.post("/api/v1/read", data={"file": (io.BytesIO(png(line)), "line.png"),
                                          "level": "line"})
    assert r.get_json()["model"] == tiny_model_dir.name
    assert "my-hand" in [m["name"] for m in client.get("/api/v1/models").get_json()["models"]
                         if m["loaded"]]
    page = client.get("/models")
    assert page.status_code == 200 and b"my-hand" in page.data and b"Learn my handwriting" in page.data


def test_an_unknown_model_is_a_clear_400(client, openapi):
    r = client.post("/api/v1/read", data={"file": (io.BytesIO(png(draw_text("hello"))), "x.png"),
                                          "level": "line", "model": "nobody"})
    assert r.status_code == 400
    validate(openapi, "Error", r.get_json())
    assert r.get_json()["error"] == "invalid_option" and "nobody" in r.get_json()["message"]
    r = client.post("/api/v1/models/learn", json={"name": "../escape"})
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_option"
    assert client.get("/api/v1/models/learn/" + "0" * 32).status_code == 404


@pytest.mark.slow
def test_learn_my_handwriting_runs_in_the_background(client, openapi, tiny_model_dir):
    r = client.post("/api/v1/models/learn", json={"name": "drawn", "minutes": 0.2})
    assert r.status_code == 202, r.get_json()
    run = r.get_json()
    validate(openapi, "LearnRun", run)
    busy = client.post("/api/v1/models/learn", json={"name": "second"})
    assert busy.status_code == 409 or run["state"] != "running"
    deadline = time.time() + 60
    while run["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
        run = client.get(r.headers["Location"]).get_json()
    validate(openapi, "LearnRun", run)
    assert run["state"] == "done", run
    assert run["result"]["train_lines"] + run["result"]["val_lines"] == 4
    listed = {m["name"]: m for m in client.get("/api/v1/models").get_json()["models"]}
    assert listed["drawn"]["base"] == tiny_model_dir.name
    r = client.post("/api/v1/read", data={"file": (io.BytesIO(png(draw_text("the fox", 40))), "x.png"),
                                          "level": "line", "model": "drawn"})
    assert r.status_code == 200 and r.get_json()["model"] == "drawn"


@pytest.mark.slow
def test_the_command_line_fine_tunes_a_folder_of_pages(tiny_model_dir, tmp_path, capsys):
    from htr.cli import main

    pages = tmp_path / "pages"
    write_page(pages, "drawn0", [(draw_text(t, 40), t) for t in ("the fox", "a dog")])
    write_page(pages, "drawn1", [(draw_text(t, 40), t) for t in ("harvey came", "to tea")])
    out = tmp_path / "mine"
    assert main(["finetune", "--model", str(tiny_model_dir), "--data", f"pagexml:{pages}",
                 "--output", str(out), "--time-budget", "0.05", "--mix", "0.8"]) == 0
    assert f"{out}: fine-tuned on 2 lines of 1 page in" in capsys.readouterr().out
    assert read_card(out)["config"]["mix"] == 0.8


def test_another_web_process_sees_a_run_by_its_state_file(tmp_path):
    from htr.learning import LearnJob, LearnJobs

    here, there = LearnJobs(tmp_path), LearnJobs(tmp_path)  # two gunicorn workers, say
    run = LearnJob("a" * 32, "my-hand", "/models/default", ["pagexml:/ws"], state="running",
                   progress=0.4, message="epoch 3")
    here._save(run, force=True)
    assert there.status(run.id)["progress"] == 0.4 and there.running().name == "my-hand"
    run.state = "done"
    here._save(run, force=True)
    assert there.running() is None and there.status(run.id)["state"] == "done"
    with pytest.raises(KeyError):
        there.status("b" * 32)


@pytest.mark.parametrize("size", ["medium", "fast"])
def test_freezing_the_encoder_keeps_the_first_sequence_layer_of_either_network(size):
    """``--freeze encoder`` keeps the convolutions, the projection and the first sequence layer:
    the first BiLSTM, or in the conv-only network the first 1-D convolution and its batch norm."""
    from htr.finetune import freeze_layers
    from htr.model import SIZES, build_model

    model = build_model(20, SIZES[size])
    frozen = freeze_layers(model, "encoder")
    first_sequence = {"medium": {"bilstm0"}, "fast": {"seq0", "seq_bn0"}}[size]
    assert first_sequence <= set(frozen) and "project" in frozen and "conv0" in frozen
    assert "logits" not in frozen and not any(n.startswith(("bilstm1", "seq1", "seq_bn1")) for n in frozen)
    assert all(not model.get_layer(n).trainable for n in frozen)
    assert freeze_layers(build_model(20, SIZES[size]), "none") == []
