"""Chunking a folder of local documents for retrieval (ChatQA §5.1 / App. C: Doc2Dial, QuAC and
QReCC documents are split into chunks of about 300 words and the top-5 are given to the model;
the official evaluation files name this "chunkbysents300", i.e. whole sentences up to 300 words).

`chunk_folder(folder, words=300)` reads every `.txt` / `.md` file under FOLDER (recursively,
sorted by path; hidden files and folders skipped) and splits each file on its own:
    paragraphs  blocks separated by blank lines
    sentences   within a paragraph, split after ".", "!" or "?" followed by white space
Sentences are packed greedily into a chunk while it stays within `words` words. A chunk is closed
early at a paragraph boundary when the next paragraph does not fit and the chunk already has at
least half of `words` (so chunks follow paragraphs where that costs little); a sentence longer
than `words` is cut into `words`-word pieces. No chunk crosses a file. Inferred: the paper gives
only "about 300 words"; the paragraph rule and the long-sentence cut are ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from paperzoo.core.errors import InputError

TEXT_SUFFIXES = (".txt", ".md")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class DocChunk:
    """One chunk of one file: `id` is "<relative path>#<position>", `position` counts from 0
    within the file, `start_word` is the index of its first word in the file's word sequence."""

    id: str
    path: str            # relative to the chunked folder, with "/" separators
    position: int
    start_word: int
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def _sentences(paragraph: str, limit: int) -> list[list[str]]:
    """The paragraph's sentences as word lists, each at most `limit` words."""
    out = []
    for sentence in _SENTENCE_END.split(paragraph.strip()):
        words = sentence.split()
        out += [words[i:i + limit] for i in range(0, len(words), limit)]
    return [s for s in out if s]


def chunk_text(text: str, words: int = 300) -> list[tuple[int, str]]:
    """Split one document into (start word index, chunk text) pairs of at most `words` words.
    Sentences in a chunk are joined by spaces, paragraphs by a blank line."""
    if words < 1:
        raise InputError(f"chunk size must be at least 1 word, got {words}")
    paragraphs = [_sentences(p, words) for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))]
    paragraphs = [p for p in paragraphs if p]
    chunks: list[tuple[int, str]] = []
    current: list[list[list[str]]] = []       # paragraphs of sentences of words
    size = start = seen = 0

    def close():
        nonlocal current, size, start
        if size:
            body = "\n\n".join(" ".join(" ".join(s) for s in para) for para in current if para)
            chunks.append((start, body))
        current, size, start = [], 0, seen

    for paragraph in paragraphs:
        para_words = sum(len(s) for s in paragraph)
        if size and size + para_words > words and size >= words / 2:
            close()                                   # end at the paragraph boundary
        current.append([])
        for sentence in paragraph:
            if size + len(sentence) > words:
                close()
                current.append([])
            current[-1].append(sentence)
            size += len(sentence)
            seen += len(sentence)
    close()
    return chunks


def text_files(folder: str | Path) -> list[Path]:
    """Every .txt/.md file under FOLDER, sorted, skipping hidden files and folders; one clear
    InputError for a missing folder or one with no such files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of documents")
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise InputError(f"{folder}: no .txt or .md files in this folder (or its subfolders)")
    return files


def chunk_folder(folder: str | Path, words: int = 300) -> list[DocChunk]:
    """Chunk every text file under FOLDER into chunks of about `words` words (see the module docstring)."""
    folder = Path(folder)
    chunks: list[DocChunk] = []
    for path in text_files(folder):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        rel = path.relative_to(folder).as_posix()
        for position, (start, body) in enumerate(chunk_text(text, words)):
            chunks.append(DocChunk(f"{rel}#{position}", rel, position, start, body))
    if not chunks:
        raise InputError(f"{folder}: its .txt/.md files hold no text")
    return chunks
