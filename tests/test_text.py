import pytest

from htr.text import Charset, normalize_text


@pytest.mark.parametrize("iam, written", [
    ("Mr . Gaitskell", "Mr. Gaitskell"),
    ("Seaweed ' s", "Seaweed's"),
    ("( 1 )", "(1)"),
    ("it 's a good start .", "it's a good start."),
    ("You 're a star", "You're a star"),
    ("I do n't think", "I don't think"),
    ('assuredness " Bella Bella Marie " ( Parlophone ) , a', 'assuredness "Bella Bella Marie" (Parlophone), a'),
    ("He said : \" Yes ! \"", 'He said: "Yes!"'),
    ("Already   written text.", "Already written text."),
])
def test_iam_tokens_become_written_text(iam, written):
    assert normalize_text(iam) == written


def test_normalising_twice_changes_nothing():
    once = normalize_text('" Oh , no ! " she said ( twice ) .')
    assert normalize_text(once) == once


def test_charset_round_trip_keeps_blank_zero():
    charset = Charset.from_texts(["Hello world", "£5, é!"])
    ids = charset.encode("Hello £5")
    assert Charset.BLANK not in ids
    assert charset.decode(ids) == "Hello £5"
    assert charset.num_classes == len(charset) + 1


def test_charset_rejects_unknown_characters():
    charset = Charset("abc")
    assert not charset.covers("abd")
    with pytest.raises(ValueError, match="'d'"):
        charset.encode("abd")


def test_charset_min_count_drops_rare_characters():
    assert Charset.from_texts(["aab", "ab", "c"], min_count=2).chars == ["a", "b"]


def test_charset_saves_and_loads(tmp_path):
    charset = Charset.from_texts(["Über [1] ^x"])
    charset.save(tmp_path / "charset.json")
    assert Charset.load(tmp_path / "charset.json") == charset
