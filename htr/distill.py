"""Knowledge distillation: a trained network (the teacher) guides the training of another.

Our networks all read the same preprocessed line and give one frame per
:data:`htr.model.WIDTH_REDUCTION` columns, so a teacher's per-frame character posteriors are soft
targets for a new network. The charsets need not be the same: the teacher's classes are put in
the student's order, and a character only the student knows (a rare one the teacher was never
taught) gets none of the teacher's probability. The training loss becomes

    CTC(labels, student) + weight * mean over lines of sum over frames of KL(teacher || student)

(Hinton et al. 2015's distillation, applied frame by frame as for CTC speech models). The teacher
says at every frame how likely each character is, where CTC alone only says which characters
come in which order. A network trained from scratch learns faster from that (the shipped
model's card: 2-6 points of CER ahead at equal samples), and the CTC term leaves it free to
read better than its teacher. The teacher's own readings are not trained:
it runs in inference mode, and nothing flows back into it.

The teacher can be read as the shipped model is read (:attr:`htr.model.ModelConfig.read_shifts`):
each line moved a row up and a row down, the mean of the two readings' logits as the target. The
shipped network distilled that way from its own weights read once, greedy, better than before
read twice (the card: not so with word beam search on IAM lines and Hooker).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from .errors import ModelError
from .model import load_model_dir
from .text import Charset


def load_teacher(model_dir: str | Path) -> tuple[keras.Model, Charset]:
    """A trained model folder's network, frozen, and its charset, to distil from."""
    teacher, charset, _ = load_model_dir(model_dir)
    teacher.trainable = False
    return teacher, charset


def distillation_term(teacher_logits, student_logits):
    """The distillation loss of a batch: per line, the frames' summed KL(teacher || student),
    averaged over the lines (the same scale as Keras' CTC loss, which is per line)."""
    ops = keras.ops
    log_t = ops.log_softmax(ops.cast(teacher_logits, "float32"), axis=-1)
    log_s = ops.log_softmax(ops.cast(student_logits, "float32"), axis=-1)
    kl = ops.sum(ops.exp(log_t) * (log_t - log_s), axis=-1)  # (batch, frames)
    return ops.mean(ops.sum(kl, axis=-1))


def shift_rows(x, rows: int):
    """A batch of network inputs ``(batch, height, width, 1)`` moved ``rows`` rows down (up where
    negative), blank paper (0) coming in at the other edge: :func:`htr.runtimes.shift_rows` on
    tensors, inside the training step."""
    if rows == 0:
        return x
    if rows > 0:
        return keras.ops.pad(x[:, :-rows], ((0, 0), (rows, 0), (0, 0), (0, 0)))
    return keras.ops.pad(x[:, -rows:], ((0, 0), (0, -rows), (0, 0), (0, 0)))


def class_map(teacher: Charset, student: Charset) -> np.ndarray:
    """For each of the student's classes, the teacher's class of the same character, or -1."""
    index = {c: i + 1 for i, c in enumerate(teacher.chars)}
    return np.array([0] + [index.get(c, -1) for c in student.chars], np.int32)


def attach_teacher(student: keras.Model, student_charset: Charset, teacher: keras.Model,
                   teacher_charset: Charset, weight: float, shifts: Sequence[int] = ()) -> None:
    """Make ``student.fit`` add ``weight`` times the distillation term to its compiled loss.

    The student's own loss method is wrapped on this one instance, so the student stays a plain
    functional network: it is saved, loaded and read exactly as before, with no trace of its
    teacher. Raises :class:`ModelError` when the two networks' frames do not line up.
    """
    height = student.input_shape[1]
    if teacher.input_shape[1] != height:
        raise ModelError(f"the teacher reads lines {teacher.input_shape[1]} px high, the student "
                         f"{height} px: distillation needs the same input height")
    mapping = class_map(teacher_charset, student_charset)
    known = keras.ops.convert_to_tensor(mapping >= 0)
    gather = keras.ops.convert_to_tensor(np.maximum(mapping, 0))
    probe = np.zeros((1, height, 96, 1), np.float32)
    if teacher(probe).shape[1] != student(probe).shape[1]:
        raise ModelError("the teacher and the student give different numbers of frames per line: "
                         "distillation needs the same width reduction")
    compiled_loss = student.compute_loss
    shifts = tuple(shifts) or (0,)

    def teacher_logits(x):
        readings = [teacher(shift_rows(x, d), training=False) for d in shifts]
        return readings[0] if len(readings) == 1 else keras.ops.mean(keras.ops.stack(readings), 0)

    def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = compiled_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                             training=training)
        if not training:
            return loss
        soft = keras.ops.take(keras.ops.stop_gradient(teacher_logits(x)), gather, axis=-1)
        soft = keras.ops.where(known, soft, -1e9)  # the student's characters the teacher lacks
        return loss + weight * distillation_term(soft, y_pred)

    # An instance attribute is found before the class's method; Keras' train step calls it.
    student.compute_loss = compute_loss


__all__ = ["load_teacher", "attach_teacher", "class_map", "distillation_term", "shift_rows"]
