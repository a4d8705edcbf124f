import jinja2
import pytest

from worldprobe.markdown import markers, render_template, splice_block

START, END = markers("summary")


def test_splice_adds_markers_once_and_is_idempotent():
    readme = "# worldprobe\n\nIntro.\n"
    once = splice_block(readme, "summary", "R² 0.5\n")
    assert once.startswith(readme.rstrip("\n")) and once.count(START) == once.count(END) == 1
    assert splice_block(once, "summary", "R² 0.5\n") == once
    updated = splice_block(once + "\n## After\n", "summary", "R² 0.6\n")
    assert "R² 0.6" in updated and "R² 0.5" not in updated and updated.endswith("\n## After\n")


def test_splice_refuses_broken_markers():
    with pytest.raises(ValueError, match="found 1 start and 0 end"):
        splice_block(f"x\n{START}\ny\n", "summary", "z")


def test_a_name_missing_from_the_context_fails(tmp_path):
    template = tmp_path / "doc.md.j2"
    template.write_text("R² {{ r2 }} against {{ control }}\n")
    assert render_template(template, r2="0.640", control="0.611") == "R² 0.640 against 0.611\n"
    with pytest.raises(jinja2.UndefinedError, match="control"):
        render_template(template, r2="0.640")
