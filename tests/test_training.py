"""train.py end to end on a tiny drawn data set: outputs, model card, resume, preview."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from conftest import draw_text
from htr.errors import DataError
from htr.model import ModelConfig
from htr.readers import group_split

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["cat", "dog", "sun", "hat", "cut", "nod", "ton", "sad"]
TINY = ModelConfig(height=32, conv=(8, 16, 16, 16), pool_height_after=(0, 1, 2, 3), lstm_units=16,
                   lstm_layers=1)
TINY_CONV = dataclasses.replace(TINY, sequence="conv", conv1d_layers=1, separable=True,
                                column_pool=True)


@pytest.fixture(scope="module")
def word_folder(tmp_path_factory):
    """Words by six 'writers' in labels.tsv + writers.tsv, the layout a user brings."""
    root = tmp_path_factory.mktemp("words")
    (root / "images").mkdir()
    writers = [f"w{i}" for i in range(6)]
    assert {group_split(w, 0.5) for w in writers} == {"train", "val"}
    labels, owners = [], ["file\twriter"]
    for w, writer in enumerate(writers):
        for k, word in enumerate(WORDS):
            name = f"images/{writer}-{k}.png"
            cv2.imwrite(str(root / name), draw_text(word, height=40 + 4 * w))
            labels.append(f"{name}\t{word}")
            owners.append(f"{name}\t{writer}")
    (root / "labels.tsv").write_text("\n".join(labels) + "\n")
    (root / "writers.tsv").write_text("\n".join(owners) + "\n")
    return root


@pytest.mark.slow
def test_training_writes_a_complete_model_folder_and_resumes(word_folder, tmp_path):
    from htr.recognizer import Recognizer
    from htr.training import TrainConfig, train

    config = TrainConfig(data=[f"folder:{word_folder}"], output=tmp_path / "model", model=TINY,
                         epochs=2, batch_size=8, epoch_size=32, val_fraction=0.5, workers=1,
                         command="pytest")
    state = train(config)
    out = config.output
    for name in ("model.keras", "charset.json", "config.json", "history.json", "README.md",
                 "training.png", "validation_predictions.png", "checkpoint/last.keras",
                 "checkpoint/epoch-1.weights.h5", "checkpoint/epoch-2.weights.h5"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(0 <= h["mean_cer"] for h in history) and history[0]["samples_per_second"] > 0
    card = (out / "README.md").read_text()
    assert "| folder:" in card and "samples/second" in card and "command: `pytest`" in card
    # Validation writers never train: the split is by writer.
    assert state["data"][f"folder:{word_folder.name}"]["val_groups"] >= 1
    assert Recognizer.load(out).charset.chars == sorted(set("".join(WORDS)))

    # An interrupted run continues from its last epoch, here with a lower learning rate.
    config.epochs = 3
    config.resume = True
    config.learning_rate = 2e-4
    train(config)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["learning_rate"] == pytest.approx(2e-4)

    # A new run can start from a trained model folder (e.g. to fine-tune on a user's own writing).
    tuned = TrainConfig(data=[f"folder:{word_folder}"], output=tmp_path / "tuned", epochs=1,
                        batch_size=8, epoch_size=16, val_fraction=0.5, workers=1, init_from=out)
    train(tuned)
    assert tuned.model == TINY
    assert "initialised from the weights of" in (tuned.output / "README.md").read_text()

    # It can grow on the way (a residual BiLSTM layer); resuming keeps the grown network's
    # configuration, not the command line's preset.
    common = dict(data=[f"folder:{word_folder}"], output=tmp_path / "grown", batch_size=8,
                  epoch_size=16, val_fraction=0.5, workers=1)
    train(TrainConfig(**common, epochs=1, init_from=out, grow=1))
    again = TrainConfig(**common, epochs=2, resume=True)
    train(again)
    assert again.model == dataclasses.replace(TINY, residual_lstm_layers=1)
    assert json.loads((tmp_path / "grown" / "config.json").read_text())["residual_lstm_layers"] == 1

    # A new network can learn from a trained one's readings as well as from the labels
    # (distillation), here read as the shipped model is, a row up and a row down; the teacher
    # stays with the run when it resumes.
    common["output"] = tmp_path / "distilled"
    train(TrainConfig(**common, epochs=1, model=TINY_CONV, teacher=out, distill_weight=0.5,
                      teacher_shifts=(-1, 1)))
    resumed = train(TrainConfig(**common, epochs=2, resume=True))
    assert (resumed["teacher"], resumed["distill_weight"]) == (str(out), 0.5)
    assert resumed["teacher_shifts"] == [-1, 1]
    assert (f"distilled from `{out}` (weight 0.5; the teacher read moved by (-1, 1) rows"
            in (tmp_path / "distilled" / "README.md").read_text())


@pytest.mark.slow
def test_preview_writes_a_grid_of_augmented_samples(word_folder, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", f"folder:{word_folder}",
                          "--output", str(tmp_path), "--preview", "--val-fraction", "0.5"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    grid = cv2.imread(str(tmp_path / "augmentation_preview.png"), cv2.IMREAD_GRAYSCALE)
    assert grid is not None and grid.shape[1] == 1200 and grid.shape[0] > 16 * 20


def test_unknown_data_kind_is_a_clear_error(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", f"scans:{tmp_path}"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 2 and "KIND:PATH" in run.stderr


def test_growing_a_network_needs_a_trained_one(word_folder, tmp_path):
    from htr.errors import ModelError
    from htr.training import TrainConfig, train

    with pytest.raises(ModelError, match="--init"):
        train(TrainConfig(data=[f"folder:{word_folder}"], output=tmp_path / "run", grow=1))
    assert not (tmp_path / "run").exists()


def test_the_best_epoch_can_be_chosen_by_some_validation_sets_only():
    from htr.errors import DataError
    from htr.training import selection_cer

    scores = {"folder:iam-lines": {"cer": 0.10}, "pagexml:hooker": {"cer": 0.30},
              "folder:kaggle-names": {"cer": 0.50}}
    assert selection_cer(scores) == pytest.approx(0.30)
    assert selection_cer(scores, ("folder:iam-lines", "pagexml:hooker")) == pytest.approx(0.20)
    with pytest.raises(DataError, match="the validation sets are folder:iam-lines"):
        selection_cer(scores, ("folder:iam",))


def test_training_leaves_out_the_samples_a_leave_out_list_names(word_folder, tmp_path):
    from htr.training import load_data, read_exclusions

    spec = f"folder:{word_folder}"
    whole = load_data([spec], 0.5, 100, seed=0)
    gone = sorted(s.id for s in whole.train)[:3]
    listed = tmp_path / "leave-out.tsv"
    listed.write_text("# two-row crops\n" + "".join(f"folder:{word_folder.name}\t{i}\t2\n" for i in gone)
                      + f"folder:elsewhere\t{gone[0]}\t2\n")  # another set's sample of that id
    assert read_exclusions(listed)[f"folder:{word_folder.name}"] == set(gone)
    part = load_data([spec], 0.5, 100, seed=0, exclude=listed)
    assert len(part.train) == len(whole.train) - 3
    assert not {s.id for s in part.train} & set(gone)
    assert part.counts[f"folder:{word_folder.name}"]["excluded"] == 3
    assert [s.id for s in part.val[f"folder:{word_folder.name}"]] == \
        [s.id for s in whole.val[f"folder:{word_folder.name}"]]  # validation keeps everything
    (tmp_path / "bad.tsv").write_text("just-an-id\n")
    with pytest.raises(DataError, match="line 1: expected SET<TAB>ID"):
        read_exclusions(tmp_path / "bad.tsv")


def test_training_batches_hold_images_of_similar_width_whatever_their_text():
    """Batches are grouped by image width, not text length (the network then reads little
    padding), every sample of the epoch comes once, and the same seed makes the same batches."""
    import numpy as np

    from htr.readers import Sample
    from htr.text import Charset
    from htr.training import BatchSequence, TrainConfig

    rng = np.random.default_rng(0)
    # Text lengths unrelated to the widths: a word crop and a printed-label crop differ so.
    texts = ["".join(rng.choice(list("abcdefgh"), rng.integers(1, 12))) + f" {i}" for i in range(40)]
    widths = rng.integers(80, 900, len(texts))

    def image(width: int) -> np.ndarray:  # a band of ink strokes as wide as asked
        band = np.full((40, width), 235, np.uint8)
        band[4:36, ::6] = 20
        return band

    samples = [Sample(f"s{i}", text, "w", lambda r, w=int(w): image(w)) for i, (text, w)
               in enumerate(zip(texts, widths))]
    charset = Charset.from_texts(texts)
    config = TrainConfig([], Path("."), TINY, batch_size=4, augment_strength=0, seed=3, epoch_size=40)

    def epoch_batches() -> tuple[list[list[str]], dict[str, int]]:
        sequence = BatchSequence(samples, charset, config)
        try:
            batches = [[charset.decode(row[row > 0]) for row in sequence[i][1]]
                       for i in range(len(sequence))]
            return batches, {s.text: sequence.load(i, None)[0].shape[1] for i, s in enumerate(samples)}
        finally:
            sequence.close()

    batches, width_of = epoch_batches()
    assert sorted(t for batch in batches for t in batch) == sorted(texts)
    spans = [(min(width_of[t] for t in b), max(width_of[t] for t in b)) for b in batches]
    assert all(a_hi <= b_lo or b_hi <= a_lo for i, (a_lo, a_hi) in enumerate(spans)
               for (b_lo, b_hi) in spans[i + 1:]), "batches of widths that interleave"
    assert epoch_batches()[0] == batches


def test_a_run_card_names_the_network_it_trained():
    from htr.model import SIZES
    from htr.training import network_kind

    assert network_kind(SIZES["medium"]) == "CNN + 2 BiLSTM layers"
    assert network_kind(dataclasses.replace(SIZES["medium"], residual_lstm_layers=1)) == "CNN + 3 BiLSTM layers"
    assert network_kind(SIZES["fast-large"]) == "separable CNN + 6 residual Conv1D layers"
