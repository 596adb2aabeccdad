"""Realistic AST JSON corpora: what snake-pipe reads, at the scale and with the accidents it meets.

Unit-test fixtures are small and tidy; real repositories of AST JSON are neither. This package
writes repositories whose files have the shapes the real tools write (``shared/samples``), their
sizes, their depths and their accidents, so that benchmarks and scale tests exercise the code
paths production does.

What is modelled, and why:

* **Formats.** acorn ESTree (``start``/``end``/``loc``); @babel/parser (``File`` root,
  ``extra``, ``loc`` with ``index``, comments attached to nodes *and* listed on the ``File``);
  typescript-estree (``range``/``loc``, ``TS*`` nodes, ``comments``, optional ``tokens``);
  ``clang -ast-dump=json`` for C and C++ (pretty-printed with two spaces, implicit builtin
  typedefs first, header declarations before the main file's, ``type`` as an object,
  ``referencedDecl``/``decl`` references, ``loc``/``range`` that omit the ``file`` and ``line``
  that did not change, ``{}`` for the null children of a ``for``); CPython ``ast`` in an
  envelope (marker strings for the constants JSON cannot hold, escaped lone surrogates in a few
  files); py-tree-sitter dumps in an envelope for Go, Rust, Java and Python (named nodes only,
  ``field``, leaf ``text``, occasional ``ERROR`` and ``missing`` nodes).
* **Programs, not noise.** Each document renders a small random program (imports, functions,
  classes, ``if``/``for``/``while``/``switch``/``try``, calls, operators, literals) through a
  language-neutral intermediate form, so snake-pipe's function, class, import and branch counts
  mean something in every format.
* **Sizes.** Per-kind log-normal sizes, medians from ~3 KB (``.d.ts``) to hundreds of KB (Clang
  translation units), with a tail up to ``max_file_mb``. A document grows one top-level unit at a
  time (each unit serialised once, its size measured), until it reaches its target: targets are
  met within a few percent without re-serialising the document. Most of a translation unit is
  its headers, so Clang documents reuse a pool of prebuilt header blocks, as real TUs repeat them.
* **Depth.** A share of Go files holds an operator chain over 14,000 levels deep, written as
  text (``json.dumps`` recurses).
* **The repository.** Paths mirror source trees (``<source path>.ast.json``); identical contents
  recur under other paths (``.d.ts``/``.d.cts`` pairs, vendored copies); on request, bad files
  (one variant per quarantine reason), non-AST JSON and editor temp files.
* **Speed.** Documents are built from plain dicts and serialised unit by unit with ``orjson``
  (tens of MB/s); the ``small`` profile varies a pool of prebuilt documents per kind (a new
  path, ``sha256`` and renamed identifier per file, so contents stay unique), which makes
  millions of files a matter of minutes: the file system is then the bottleneck.

Clang writes ``{}`` for a loop's null children; readers that take every element of ``inner``
for a node reject such trees (snake-pipe did, as ``schema``). ``clang_null_children=False``
writes loops without them, to compare with such readers.

Everything derives from one seed (``random.Random``): the same arguments write byte-identical
files. Entry points: :func:`generate` (a repository), :func:`document`, :func:`deep_go_document`
and :func:`bad_document` (one document's bytes), and the CLI ``python -m bench.corpus``.
The package, by concept: :mod:`.kinds` (kinds and size profiles), :mod:`.names`,
:mod:`.program` (the language-neutral program), :mod:`.grow` (growing a document to its size),
one renderer per format (:mod:`.estree`, :mod:`.python_ast`, :mod:`.tree_sitter`, :mod:`.clang`
and their helpers), :mod:`.document` (one document), :mod:`.templates`, :mod:`.bad_files`,
:mod:`.source_tree`, :mod:`.stats`, :mod:`.repository` (:func:`generate`) and :mod:`.cli`.
"""

from .bad_files import BAD_VARIANTS, bad_document
from .clang_headers import _POOLS as _POOLS  # the Clang header-pool cache (tests clear it)
from .cli import main
from .document import deep_go_document, document
from .kinds import KINDS, PROFILES, Kind
from .repository import generate
from .stats import CorpusStats

__all__ = [
    "BAD_VARIANTS",
    "KINDS",
    "PROFILES",
    "CorpusStats",
    "Kind",
    "bad_document",
    "deep_go_document",
    "document",
    "generate",
    "main",
]
