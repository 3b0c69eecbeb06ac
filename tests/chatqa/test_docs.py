"""Chunking local documents: on the project's own READMEs (real documents nobody wrote for this),
every word lands in exactly one chunk, in order, no chunk is over the size or crosses a file, and
bad folders get one clear error."""

import shutil
from pathlib import Path

import pytest

from paperzoo.chatqa.docs import chunk_folder, chunk_text
from paperzoo.core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def readmes(tmp_path):
    folder = tmp_path / "docs"
    (folder / "systems").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", folder / "README.md")
    for readme in sorted((ROOT / "src" / "paperzoo").glob("*/README.md")):
        shutil.copy(readme, folder / "systems" / f"{readme.parent.name}.md")
    (folder / "notes.py").write_text("print('not a document')\n")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "skip.md").write_text("hidden words\n")
    return folder


@pytest.mark.parametrize("size", [300, 60])
def test_readmes_chunk_into_whole_files_in_order(readmes, size):
    chunks = chunk_folder(readmes, words=size)
    files = sorted(p.relative_to(readmes).as_posix() for p in readmes.rglob("*.md") if ".hidden" not in p.parts)
    assert len(files) >= 4 and sorted({c.path for c in chunks}) == files
    for rel in files:
        mine = [c for c in chunks if c.path == rel]
        assert [c.position for c in mine] == list(range(len(mine)))
        assert [c.id for c in mine] == [f"{rel}#{k}" for k in range(len(mine))]
        # Every word of the file, once, in order; each chunk's start_word is where it begins.
        assert [w for c in mine for w in c.text.split()] == (readmes / rel).read_text().split()
        assert [c.start_word for c in mine] == [sum(c.words for c in mine[:k]) for k in range(len(mine))]
        assert all(1 <= c.words <= size for c in mine)
    # "about N words": most chunks of a long file are well over half full (a broken packer that
    # emits one sentence per chunk fails this).
    full = [c.words >= size / 2 for c in chunks[:-1]]
    assert sum(full) / len(full) > 0.6
    assert not any("hidden words" in c.text or "not a document" in c.text for c in chunks)


def test_sentence_and_paragraph_boundaries():
    text = "One two three. Four five six.\n\nSeven eight nine ten. Eleven.\n\n" + "w " * 7 + "end."
    chunks = chunk_text(text, words=8)
    # 6 words fill past half of 8, and the 5-word paragraph does not fit: close at the paragraph.
    assert [t for _, t in chunks] == ["One two three. Four five six.", "Seven eight nine ten. Eleven.", "w w w w w w w end."]
    assert [s for s, _ in chunks] == [0, 6, 11]
    # A paragraph that does not fit is split at a sentence when the chunk is under half full.
    assert [t for _, t in chunk_text("a b. c d e f g.\n\nh i j k l m. n o.", words=9)] == ["a b. c d e f g.", "h i j k l m. n o."]
    assert [t for _, t in chunk_text("a b c.\n\nd e f g h. i j.", words=8)] == ["a b c.\n\nd e f g h.", "i j."]
    # A sentence longer than the chunk is cut into pieces of the chunk size.
    assert [t for _, t in chunk_text("x " * 10, words=4)] == ["x x x x", "x x x x", "x x"]
    with pytest.raises(InputError, match="at least 1 word"):
        chunk_text("a", words=0)


def test_bad_folders_get_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such folder of documents"):
        chunk_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .txt or .md files"):
        chunk_folder(tmp_path / "empty")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.py").write_text("x = 1\n")
    with pytest.raises(InputError, match="no .txt or .md files"):
        chunk_folder(tmp_path / "code")
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "a.txt").write_text("\n  \n")
    with pytest.raises(InputError, match="hold no text"):
        chunk_folder(tmp_path / "blank")
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin" / "a.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match=r"a.txt: not UTF-8 text"):
        chunk_folder(tmp_path / "latin")
