"""Distillation: a trained network's readings as soft targets for a new one (htr.distill)."""

import keras
import numpy as np
import pytest

from htr.distill import attach_teacher, class_map, shift_rows
from htr.errors import ModelError
from htr.model import ModelConfig, build_model, compile_model
from htr.runtimes import shift_rows as shift_image_rows
from htr.text import Charset

TEACHER = ModelConfig(height=32, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3),
                      lstm_units=16, lstm_layers=1)
STUDENT = ModelConfig(height=32, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3),
                      lstm_units=16, sequence="conv", conv1d_layers=2, separable=True,
                      column_pool=True)


@pytest.fixture(autouse=True)
def same_networks_each_run():
    keras.utils.set_random_seed(5)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random((3, 32, 96, 1)).astype(np.float32),
            rng.integers(1, 4, (3, 5)).astype(np.int32))


def loss_of(model, x, y) -> float:
    return float(model.compute_loss(x=x, y=y, y_pred=model(x), training=True))


def frame_divergence(log_t: np.ndarray, log_s: np.ndarray) -> float:
    """KL(teacher || student) of log-probabilities, summed over a line's frames, averaged over
    the lines."""
    return float((np.exp(log_t) * (log_t - log_s)).sum(axis=-1).sum(axis=-1).mean())


def test_a_student_is_charged_its_frames_divergence_from_the_teacher_on_top_of_ctc():
    charset = Charset("abc")
    teacher = build_model(charset.num_classes, TEACHER)
    student = compile_model(build_model(charset.num_classes, STUDENT))
    x, y = batch()
    ctc_only = loss_of(student, x, y)

    attach_teacher(student, charset, teacher, charset, weight=0.5)
    divergence = frame_divergence(log_softmax(np.asarray(teacher(x))),
                                  log_softmax(np.asarray(student(x))))
    assert divergence > 1e-3  # so that the sum below says something
    assert loss_of(student, x, y) == pytest.approx(ctc_only + 0.5 * divergence, rel=1e-4)


def test_a_student_that_reads_as_its_teacher_pays_nothing_more():
    charset = Charset("abc")
    teacher = build_model(charset.num_classes, TEACHER)
    student = compile_model(build_model(charset.num_classes, TEACHER))
    student.set_weights(teacher.get_weights())
    x, y = batch(1)
    ctc_only = loss_of(student, x, y)
    attach_teacher(student, charset, teacher, charset, weight=1.0)
    assert loss_of(student, x, y) == pytest.approx(ctc_only, abs=1e-3)


def test_a_teacher_read_moved_a_row_up_and_down_teaches_the_mean_of_its_two_readings():
    charset = Charset("abc")
    teacher = build_model(charset.num_classes, TEACHER)
    student = compile_model(build_model(charset.num_classes, STUDENT))
    x, y = batch(3)
    # The same moved inputs as the shipped model is read with (htr.runtimes).
    for rows in (-1, 1, 2):
        moved = np.asarray(shift_rows(x, rows))
        assert np.array_equal(moved[0], shift_image_rows(x[0], rows))
    ctc_only = loss_of(student, x, y)

    attach_teacher(student, charset, teacher, charset, weight=10.0, shifts=(-1, 1))
    mean_logits = (np.asarray(teacher(np.asarray(shift_rows(x, -1))))
                   + np.asarray(teacher(np.asarray(shift_rows(x, 1))))) / 2
    divergence = frame_divergence(log_softmax(mean_logits), log_softmax(np.asarray(student(x))))
    unshifted = frame_divergence(log_softmax(np.asarray(teacher(x))),
                                 log_softmax(np.asarray(student(x))))
    loss = loss_of(student, x, y)
    assert loss == pytest.approx(ctc_only + 10 * divergence, rel=1e-4)
    assert loss != pytest.approx(ctc_only + 10 * unshifted, rel=1e-4)  # not the plain reading


def test_characters_only_the_student_knows_get_none_of_the_teachers_probability():
    # The teacher's "c" is the student's class 3; the student's "é" has no teacher class.
    assert class_map(Charset("abc"), Charset("abcé")).tolist() == [0, 1, 2, 3, -1]
    assert class_map(Charset("abcz"), Charset("acé")).tolist() == [0, 1, 3, -1]

    teacher_chars, student_chars = Charset("ab"), Charset("abé")
    teacher = build_model(teacher_chars.num_classes, TEACHER)
    student = compile_model(build_model(student_chars.num_classes, STUDENT))
    x, y = batch(2)
    ctc_only = loss_of(student, x, y)
    attach_teacher(student, student_chars, teacher, teacher_chars, weight=1.0)
    # The teacher's three classes, put at the student's blank, "a" and "b"; "é" has nothing.
    divergence = frame_divergence(log_softmax(np.asarray(teacher(x))),
                                  log_softmax(np.asarray(student(x)))[..., :3])
    assert loss_of(student, x, y) == pytest.approx(ctc_only + divergence, rel=1e-4)


def test_a_teacher_that_reads_other_lines_is_refused():
    charset = Charset("abc")
    student = compile_model(build_model(charset.num_classes, STUDENT))
    taller = build_model(charset.num_classes, ModelConfig(height=40))
    with pytest.raises(ModelError, match="40 px high"):
        attach_teacher(student, charset, taller, charset, weight=1.0)
