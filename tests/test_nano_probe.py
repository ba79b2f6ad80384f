"""`python -m inference.nano probe` splits the shipped model's next-token error by kind of
target token: templated text is nearly always right, the capital letters of codes are apart."""

from inference.nano.__main__ import main
from inference.nano.probe import code_pairs, probe


def test_the_kinds_partition_the_trained_tokens_and_template_text_is_learnt():
    result = probe(conversations=48)
    kinds = ("capital letters", "copied digits and effort", "other")
    assert sum(result[k]["tokens"] for k in kinds) == result["all"]["tokens"] > 1000
    assert result["capital letters"]["tokens"] > 0
    assert result["other"]["error"] < 0.05
    assert all(0.0 <= row["error"] <= 1.0 for row in result.values())


def test_the_command_prints_a_row_per_kind(capsys):
    assert main(["probe", "--conversations", "8"]) == 0
    printed = capsys.readouterr().out
    for kind in ("all", "capital letters", "copied digits and effort", "other"):
        assert kind in printed
    assert "letter pairs of codes written after a quote" in printed


def test_code_pairs_are_read_at_every_bare_pair_of_the_calls():
    result = code_pairs(problems=8)
    assert result["pairs"] >= 8  # every problem's call holds at least one code
    assert 0 <= result["right"] <= result["pairs"] and result["median_rank"] >= 0
