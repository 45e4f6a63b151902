"""The Jupyter edition: every chapter as a plain ``.ipynb`` for places with no MyST renderer.

Colab, VS Code, GitHub's preview and a downloaded notebook show Markdown, not MyST. This
Sphinx extension (listed under ``sphinx: local_extensions`` in ``_config.yml``) writes,
when the site is built, ``_edition/<chapter>.ipynb`` into the site for every chapter
notebook, plus a zip of all of them and a wheel of the package:

- the first cell installs the package (distribution ``sparse-coding-course``, import name
  ``sparsecoding``) from the wheel the site serves, when ``import sparsecoding`` fails;
- MyST becomes plain Markdown: admonitions and exercises are quoted blocks with a bold
  title, theorems, proofs and algorithms titled paragraphs, solutions ``<details>`` blocks
  (their code shown inside, not run by "Run all"), citations author–year with a
  references cell at the end, cross-references links to the site's pages;
- every ``{eval}`` role is replaced by the value the build computed: the extension wraps
  myst-nb's inline execution client and records what each expression returned in the
  executed kernel, so the text and the outputs come from the same run;
- code cells carry the outputs of the build's execution; test cells that only assert
  (tagged ``remove-cell``, removed from the site too) are left out, and so is the cell
  that reads the chapter's measured reading and running times (tagged ``chapter-time``),
  whose values are written into the opening; so is the list of references by key that
  ``add_references.py`` writes for JupyterLab (tagged ``jupyterlab-references``).

The site's download button and the Colab launch button point at the edition.
"""

from __future__ import annotations

import ast
import copy
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

FOLDER = "_edition"
ZIP_NAME = "sparse-coding-notebooks.zip"
DISTRIBUTION = "sparse-coding-course"

#: What the Colab launch button opens: the edition on the branch the site is published to.
COLAB_URL = "{colab}/github/{org}/{repo}/blob/{branch}/" + FOLDER + "/{docname}.ipynb"

#: Tag of the cell, written by ``add_references.py``, that lists a chapter's references
#: for JupyterLab (which cannot resolve citations); the edition leaves it out.
REFERENCES_TAG = "jupyterlab-references"

_EVAL_RESULTS: dict[str, dict[str, str]] = {}  # notebook path -> {expression: value}


# --------------------------------------------------------------------------------------
# The install cell


def install_cell_source(wheel_url: str) -> str:
    """Source of the edition's first cell: install the package where it is missing."""
    return (
        "# The course's package, `sparsecoding`: installed here when it is missing\n"
        "# (Colab, Binder), at the version this notebook was built with.\n"
        "try:\n"
        "    import sparsecoding\n"
        "except ImportError:\n"
        "    import subprocess\n"
        "    import sys\n"
        "\n"
        "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                           \"{wheel_url}\"])\n"
        "    import sparsecoding\n"
        "print(\"sparsecoding\", sparsecoding.__version__)\n"
    )


def project_version(root: Path) -> tuple[str, str]:
    """(distribution name, version) from ``pyproject.toml``."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return project["name"], project["version"]


def wheel_name(name: str, version: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-py3-none-any.whl"


def build_wheel(root: Path, outdir: Path) -> Path:
    """Build the package's wheel into ``outdir`` from a copy of the sources (the
    repository gets no ``build/`` folder); no network: no build isolation."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "project"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, src / name)
        shutil.copytree(root / "src", src / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "--wheel-dir", str(outdir), str(src)],
            check=True, capture_output=True, text=True,
        )
    name, version = project_version(root)
    wheel = outdir / wheel_name(name, version)
    if not wheel.is_file():
        raise FileNotFoundError(f"pip wheel did not write {wheel.name}")
    return wheel


# --------------------------------------------------------------------------------------
# MyST to Markdown

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})(.*)$")
DIRECTIVE = re.compile(r"^\{([\w:.-]+)\}\s*(.*)$")
ROLE = re.compile(r"\{([\w:.+-]+)\}(`+)(.+?)\2")
TARGET = re.compile(r"^\s*\(([^()\s]+)\)=\s*$")
EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
SOLUTION_START = re.compile(r"^\s*(`{3,}|:{3,})\{solution-start\}\s*(\S*)", re.M)
SOLUTION_END = re.compile(r"^\s*(`{3,}|:{3,})\{solution-end\}", re.M)

ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso", "admonition", "margin", "sidebar", "topic",
               "epigraph"}
DROPPED = {"bibliography", "eval-rst", "tableofcontents", "toctree"}


class MystToMarkdown:
    """Converts the MyST of one chapter; ``site`` resolves links, labels and citations."""

    def __init__(self, site: "Site", docname: str, values: dict[str, str]):
        self.site = site
        self.docname = docname
        self.values = values
        self.cited: list[str] = []
        self.exercises: dict[str, str] = {}
        self.problems: list[str] = []

    # ---- blocks

    def convert(self, text: str) -> str:
        return "\n".join(self._block(text.split("\n"))).strip("\n")

    def _block(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            fence = FENCE.match(line)
            if fence:
                indent, marks, info = fence.groups()
                end = _closing(lines, i, marks)
                body = lines[i + 1:end]
                directive = DIRECTIVE.match(info.strip())
                if directive:
                    out.extend(self._directive(directive.group(1), directive.group(2),
                                               body, indent))
                else:
                    out.extend(lines[i:end + 1])  # a code block: verbatim
                i = end + 1
                continue
            target = TARGET.match(line)
            if target:
                out.append(f'<a id="{target.group(1)}"></a>')
            elif line.startswith("%") or line.strip() == "+++":
                pass  # a MyST comment or block break
            else:
                out.append(self.inline(line))
            i += 1
        return out

    def _directive(self, name, argument, body, indent):
        options, content = _options(body)
        label = options.get("label") or options.get("name")
        anchor = [f'<a id="{label}"></a>', ""] if label else []
        inner = _trim(self._block(content))
        title = self.inline(argument.strip())
        if name in DROPPED:
            return []
        if name == "nb-exec-table":
            return [f"*The table is on [the website]({self.site.page_url(self.docname)}).*"]
        if name in ("math",):
            return anchor + ["$$", *content, "$$"]
        if name in ("code", "code-block", "code-cell", "sourcecode"):
            return ["```" + argument.strip(), *content, "```"]
        if name.startswith("prf:"):
            return anchor + self._titled(self._proof_title(name[4:], title, label), inner)
        if name == "exercise":
            number = self.site.number(self.docname, "exercise", label)
            if number is None:
                number = str(len(self.exercises) + 1)
            if label:
                self.exercises[label] = number
            head = f"Exercise {number}" + (f" ({title})" if title else "")
            return anchor + _quote([f"**{head}**", "", *inner])
        if name in ("solution", "dropdown", "toggle"):
            summary = title or ("Solution" if name == "solution" else "Details")
            if name == "solution" and argument.strip() in self.exercises:
                summary = f"Solution to Exercise {self.exercises[argument.strip()]}"
            return _details(summary, inner)
        if name in ("figure", "image"):
            alt = options.get("alt", "")
            return anchor + [f"![{alt}]({self.site.url_of_file(self.docname, argument)})",
                             "", *inner]
        # admonitions and any other directive: a quoted block with a bold title
        if name == "admonition":
            head = title or "Note"
        else:
            head = name.split(":")[-1].replace("-", " ").capitalize()
            if title:
                head = f"{head}: {title}"
        return anchor + _quote([f"**{head}**", "", *inner])

    def _proof_title(self, kind, title, label):
        word = kind.replace("-", " ").capitalize()
        if kind == "proof":
            return f"*Proof.*" if not title else f"*Proof ({title}).*"
        number = self.site.proof_number(label) if label else None
        head = word + (f" {number}" if number else "") + (f" ({title})" if title else "")
        return f"**{head}.**"

    @staticmethod
    def _titled(head, inner):
        inner = list(inner)
        while inner and not inner[0].strip():
            inner.pop(0)
        if inner and re.match(r"[A-Za-z(\[$_]|\*[^*]", inner[0]) and not inner[0].startswith("$$"):
            return [f"{head} {inner[0]}", *inner[1:]]
        return [head, "", *inner]

    # ---- roles

    def inline(self, line: str) -> str:
        return ROLE.sub(self._role, line)

    def _role(self, match) -> str:
        name, text = match.group(1), match.group(3)
        title, target = text, text
        explicit = EXPLICIT.match(text)
        if explicit and explicit.group(1):
            title, target = explicit.group(1), explicit.group(2)
        else:
            title = None
        if name == "eval":
            if text not in self.values:
                self.problems.append(f"{{eval}}`{text}`: no value recorded by the build")
                return f"`{text}`"
            return self.values[text]
        if name.startswith("cite"):
            keys = [k.strip() for k in text.split(",") if k.strip()]
            self.cited.extend(k for k in keys if k not in self.cited)
            return self.site.cite(name, keys, self.problems)
        if name == "doc":
            docname = _resolve_doc(self.docname, target)
            return f"[{title or self.site.title(docname)}]({self.site.page_url(docname)})"
        if name in ("ref", "numref"):
            found = self.site.label(target)
            if not found:
                self.problems.append(f"{{{name}}}`{text}`: unknown label")
                return title or target
            docname, anchor, caption = found
            return f"[{title or caption}]({self.site.page_url(docname, anchor)})"
        if name == "prf:ref":
            entry = self.site.proof(target)
            if not entry:
                self.problems.append(f"{{prf:ref}}`{text}`: unknown label")
                return title or target
            number = self.site.proof_number(target)
            caption = title or (entry["realtype"].title() + (f" {number}" if number else ""))
            return f"[{caption}]({self.site.page_url(entry['docname'], target)})"
        if name == "eq":
            return f"({target})"
        if name == "math":
            return f"${text}$"
        if name.startswith("py:") or name in ("func", "class", "mod", "meth", "attr"):
            short = target.startswith("~")
            target = target.lstrip("~.")
            shown = title or (target.rsplit(".", 1)[-1] if short else target)
            if name.endswith(("func", "meth")) and not title:
                shown += "()"
            url = self.site.python_object(target)
            return f"[`{shown}`]({url})" if url else f"`{shown}`"
        if name in ("sub", "sup"):
            return f"<{name}>{text}</{name}>"
        if name in ("abbr", "term", "index", "download", "kbd", "guilabel", "file"):
            return title or text
        return f"`{title or text}`"


def _closing(lines, start, marks):
    """Index of the line that closes the fence opened at ``lines[start]``."""
    stack = []
    char, size = marks[0], len(marks)
    for j in range(start + 1, len(lines)):
        fence = FENCE.match(lines[j])
        if not fence:
            continue
        found, info = fence.group(2), fence.group(3).strip()
        if stack:
            if found[0] == stack[-1][0] and len(found) >= len(stack[-1]) and not info:
                stack.pop()
            else:
                stack.append(found)
            continue
        if found[0] == char and len(found) >= size and not info:
            return j
        stack.append(found)
    return len(lines)


def _options(body):
    """Split a directive body into its ``:key: value`` options and its content."""
    options, i = {}, 0
    if body and body[0].strip() == "---":  # YAML block of options
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
        if end:
            import yaml

            options = {str(k): str(v) for k, v in (yaml.safe_load("\n".join(body[1:end]))
                                                   or {}).items()}
            return options, body[end + 1:]
    while i < len(body):
        option = re.match(r"^\s*:([\w-]+):\s*(.*)$", body[i])
        if not option:
            break
        options[option.group(1)] = option.group(2).strip()
        i += 1
    return options, body[i:]


def _quote(lines):
    return [f"> {line}" if line.strip() else ">" for line in _trim(lines)]


def _details(summary, inner):
    return ["<details>", f"<summary><b>{summary}</b></summary>", "", *_trim(inner), "",
            "</details>"]


def _trim(lines):
    lines = list(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _resolve_doc(current, target):
    target = target.strip()
    for suffix in (".ipynb", ".md"):
        if target.endswith(suffix):
            target = target[: -len(suffix)]
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(current), target))


# --------------------------------------------------------------------------------------
# What the built site knows: titles, labels, numbers, the bibliography


class Site:
    """Resolves links against the Sphinx environment and cites from references.bib."""

    def __init__(self, env, base_url: str, bibfiles: list[Path]):
        self.env = env
        self.base_url = base_url.rstrip("/")
        self.bib = None
        if bibfiles:
            from pybtex.database import BibliographyData, parse_file

            self.bib = BibliographyData()
            for path in bibfiles:
                for key, entry in parse_file(str(path)).entries.items():
                    self.bib.entries[key] = entry

    def page_url(self, docname, anchor=None):
        url = f"{self.base_url}/{docname}.html" if self.base_url else f"{docname}.html"
        return url + (f"#{anchor}" if anchor else "")

    def url_of_file(self, docname, path):
        return path if re.match(r"\w+://", path) else self.page_url(
            posixpath.normpath(posixpath.join(posixpath.dirname(docname), path)))[:-5]

    def title(self, docname):
        node = self.env.titles.get(docname) if self.env else None
        return node.astext() if node is not None else docname.rsplit("/", 1)[-1]

    def label(self, name):
        if not self.env:
            return None
        std = self.env.domaindata.get("std", {})
        if name in std.get("labels", {}):
            return std["labels"][name]
        if name in std.get("anonlabels", {}):
            docname, anchor = std["anonlabels"][name]
            return docname, anchor, name
        return None

    def proof(self, name):
        return getattr(self.env, "proof_list", {}).get(name) if self.env else None

    def proof_number(self, name):
        entry = self.proof(name)
        if not entry or entry.get("nonumber"):
            return None
        return self.number(entry["docname"], entry["countertype"], name)

    def number(self, docname, kind, label):
        if not self.env or not label:
            return None
        numbers = getattr(self.env, "toc_fignumbers", {}).get(docname, {}).get(kind, {})
        return ".".join(map(str, numbers[label])) if label in numbers else None

    def python_object(self, name):
        if not self.env:
            return None
        objects = self.env.domaindata.get("py", {}).get("objects", {})
        entry = objects.get(name)
        if entry is None:
            return None
        return self.page_url(entry[0], entry[1])

    # ---- citations

    def _authors(self, key):
        from pybtex.richtext import Text

        entry = self.bib.entries[key]
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [str(Text.from_latex(" ".join(p.prelast_names + p.last_names)))
                 for p in people]
        names = [n.replace("{", "").replace("}", "") for n in names]
        if not names:
            field = entry.fields.get("organization") or entry.fields.get("title", key)
            return str(Text.from_latex(field)).replace("{", "").replace("}", "")
        if len(names) == 1:
            return names[0]
        if len(names) == 2:
            return f"{names[0]} and {names[1]}"
        return f"{names[0]} et al."

    def _year(self, key):
        return self.bib.entries[key].fields.get("year", "n.d.")

    def cite(self, role, keys, problems):
        known = [k for k in keys if self.bib is not None and k in self.bib.entries]
        for key in keys:
            if key not in known:
                problems.append(f"citation {key!r} is not in the bibliography")
        if not known:
            return ", ".join(keys)
        if role in ("cite:t", "cite:ts", "cite:author"):
            return "; ".join(f"{self._authors(k)} ({self._year(k)})" for k in known)
        if role == "cite:year":
            return ", ".join(self._year(k) for k in known)
        inner = "; ".join(f"{self._authors(k)}, {self._year(k)}" for k in known)
        return inner if role in ("cite:alp", "cite:ps") else f"({inner})"

    def formatted_references(self, keys) -> dict[str, str]:
        """``{key: full reference in Markdown}`` for the known ``keys`` (pybtex's plain style)."""
        from pybtex.plugin import find_plugin

        keys = [k for k in keys if self.bib is not None and k in self.bib.entries]
        if not keys:
            return {}
        style = find_plugin("pybtex.style.formatting", "plain")()
        bib = copy.deepcopy(self.bib)
        bib.entries = {k: bib.entries[k] for k in keys}
        return {entry.key: " ".join(entry.text.render_as("markdown").split())
                for entry in style.format_entries(bib.entries.values())}

    def references_cell(self, keys):
        texts = self.formatted_references(keys)
        if not texts:
            return None
        lines = ["## References", ""]
        for key in sorted(texts, key=lambda k: (self._authors(k).lower(), self._year(k))):
            lines.append(f"- {texts[key]}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# One chapter


def edition_notebook(nb, docname: str, site: Site, values: dict[str, str], wheel_url: str):
    """The edition of one executed chapter notebook; returns (notebook, problems)."""
    convert = MystToMarkdown(site, docname, values)
    cells = [nbformat.v4.new_code_cell(install_cell_source(wheel_url),
                                       metadata={"tags": ["install"]})]
    i = 0
    source_cells = nb.cells
    while i < len(source_cells):
        cell = source_cells[i]
        start = SOLUTION_START.search(cell.source) if cell.cell_type == "markdown" else None
        if start:
            end = i
            while end < len(source_cells) and not (
                    source_cells[end].cell_type == "markdown"
                    and SOLUTION_END.search(source_cells[end].source)):
                end += 1
            cells.append(nbformat.v4.new_markdown_cell(
                _solution_markdown(source_cells[i:end + 1], start.group(2), convert)))
            i = end + 1
            continue
        if REFERENCES_TAG in cell.metadata.get("tags", []):
            # the JupyterLab list of the chapter's references (add_references.py): the
            # edition writes its own references cell at the end
            i += 1
            continue
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(convert.convert(cell.source))
        elif cell.cell_type == "code":
            if _only_asserts(cell) or "chapter-time" in cell.metadata.get("tags", []):
                # test machinery (the site removes it too), or the cell that reads the
                # chapter's measured times, whose values the edition writes in: left out
                i += 1
                continue
            new = copy.deepcopy(cell)
            new.metadata.pop("execution", None)
        else:
            new = copy.deepcopy(cell)
        if "id" in cell:
            new["id"] = cell["id"]
        cells.append(new)
        i += 1
    references = site.references_cell(convert.cited)
    if references:
        cells.append(nbformat.v4.new_markdown_cell(references))
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(nb.metadata))
    out.metadata.pop("mystnb", None)
    for k, c in enumerate(out.cells):
        c["id"] = c.get("id") or f"edition-{k}"
    return out, convert.problems


def _only_asserts(cell) -> bool:
    """A ``remove-cell`` cell that only asserts: it defines nothing later cells use."""
    if "remove-cell" not in cell.metadata.get("tags", []):
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, ast.Assert) for node in body)


def _solution_markdown(cells, label, convert: MystToMarkdown) -> str:
    """One ``<details>`` block for a gated solution: its text and its code, not run."""
    parts = []
    for k, cell in enumerate(cells):
        text = cell.source
        if cell.cell_type == "markdown":
            if k == 0:
                lines = text.split("\n")
                first = next(j for j, line in enumerate(lines) if SOLUTION_START.match(line))
                closing = _closing(lines, first, FENCE.match(lines[first]).group(2))
                text = "\n".join(lines[:first] + lines[closing + 1:])
            if k == len(cells) - 1 and k > 0:
                text = SOLUTION_END.sub("", text)
                text = re.sub(r"^\s*(`{3,}|:{3,})\s*$", "", text, flags=re.M)
            parts.append(convert.convert(text))
        elif cell.cell_type == "code":
            parts.append("```python\n" + cell.source.strip("\n") + "\n```")
            printed = "".join(o.get("text", "") for o in cell.get("outputs", [])
                              if o.get("output_type") == "stream" and o.get("name") == "stdout")
            if printed.strip():
                parts.append("```text\n" + printed.strip("\n") + "\n```")
    number = convert.exercises.get(label)
    summary = f"Solution to Exercise {number}" if number else "Solution"
    return "\n".join(_details(summary, "\n\n".join(p for p in parts if p.strip()).split("\n")))


# --------------------------------------------------------------------------------------
# Sphinx glue


def _record_eval(original):
    def eval_variable(self, name):
        outputs = original(self, name)
        text = None
        for output in outputs:
            data = output.get("data", {})
            if "text/plain" in data:
                text = data["text/plain"]
        if text is not None and self.path is not None:
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                try:
                    text = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    text = text[1:-1]
            _EVAL_RESULTS.setdefault(str(Path(self.path).resolve()), {})[name] = str(text)
        return outputs

    eval_variable._edition = True
    return eval_variable


def _patch_eval(app):
    from myst_nb.core.execute.inline import NotebookClientInline

    if not getattr(NotebookClientInline.eval_variable, "_edition", False):
        NotebookClientInline.eval_variable = _record_eval(NotebookClientInline.eval_variable)


def _store_eval(app, doctree):
    env = app.env
    path = str(Path(env.doc2path(env.docname)).resolve())
    store = getattr(env, "edition_eval", None)
    if store is None:
        store = env.edition_eval = {}
    store[env.docname] = _EVAL_RESULTS.pop(path, {})


def _purge(app, env, docname):
    getattr(env, "edition_eval", {}).pop(docname, None)


def _merge(app, env, docnames, other):
    if not hasattr(env, "edition_eval"):
        env.edition_eval = {}
    for docname in docnames:
        if docname in getattr(other, "edition_eval", {}):
            env.edition_eval[docname] = other.edition_eval[docname]


def _site_url(app):
    return (app.config.edition_site_url or app.config.html_baseurl or "").rstrip("/")


def _notebook_docnames(app):
    return sorted(d for d in app.env.found_docs
                  if str(app.env.doc2path(d)).endswith(".ipynb"))


def _repo_parts(app):
    url = (app.config.html_theme_options.get("repository_url") or "").rstrip("/")
    if "github.com/" not in url:
        return None
    org, repo = url.split("github.com/", 1)[1].split("/")[:2]
    return org, repo


def _buttons(app, pagename, templatename, context, doctree):
    """Point the Colab and download buttons of a chapter at its edition."""
    if pagename not in set(_notebook_docnames(app)):
        return
    depth = pagename.count("/")
    edition = "../" * depth + f"{FOLDER}/{pagename}.ipynb"
    parts = _repo_parts(app)
    launch = app.config.html_theme_options.get("launch_buttons", {})
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-source-button":
                button["url"] = edition
                button["tooltip"] = "Download the notebook (Jupyter edition)"
            if button.get("text") == "Colab" and parts:
                button["url"] = COLAB_URL.format(
                    colab=launch.get("colab_url", "https://colab.research.google.com").rstrip("/"),
                    org=parts[0], repo=parts[1], branch=app.config.edition_pages_branch,
                    docname=pagename)
        if group.get("label") == "download-buttons":
            zip_url = "../" * depth + f"{FOLDER}/{ZIP_NAME}"
            if not any(b.get("label") == "download-edition-zip" for b in group["buttons"]):
                group["buttons"].insert(1, {
                    "type": "link", "url": zip_url, "text": "all notebooks",
                    "tooltip": "Download every chapter (Jupyter edition, .zip)",
                    "icon": "fas fa-file-archive", "label": "download-edition-zip"})


def build_edition(app, exception):
    """Write the edition of every chapter notebook into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    root = Path(app.srcdir)
    out = Path(app.outdir) / FOLDER
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    name, version = project_version(root)
    wheel = build_wheel(root, out)
    site_url = _site_url(app)
    wheel_url = f"{site_url}/{FOLDER}/{wheel.name}" if site_url else wheel.name
    bibfiles = [root / f for f in getattr(app.config, "bibtex_bibfiles", [])]
    site = Site(app.env, site_url, bibfiles)
    executed_root = Path(app.outdir).parent / "jupyter_execute"
    written = []
    for docname in _notebook_docnames(app):
        if docname not in app.env.all_docs:
            continue
        executed = executed_root / f"{docname}.ipynb"
        source = executed if executed.is_file() else Path(app.env.doc2path(docname))
        nb = nbformat.read(source, as_version=4)
        values = getattr(app.env, "edition_eval", {}).get(docname, {})
        edition, problems = edition_notebook(nb, docname, site, values, wheel_url)
        for problem in problems:
            logger.warning(f"Jupyter edition: {problem}", location=docname)
        target = out / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(edition, target)
        written.append(target)
    with zipfile.ZipFile(out / ZIP_NAME, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in written:
            archive.write(path, path.relative_to(out).as_posix())
    (out / "index.json").write_text(json.dumps({
        "distribution": name, "version": version, "wheel": wheel.name,
        "notebooks": [p.relative_to(out).as_posix() for p in written],
    }, indent=1))
    logger.info(f"Jupyter edition: {len(written)} notebooks, {ZIP_NAME}, {wheel.name}")


def setup(app):
    app.add_config_value("edition_site_url", "", "html")
    app.add_config_value("edition_pages_branch", "gh-pages", "html")
    app.connect("builder-inited", _patch_eval)
    app.connect("doctree-read", _store_eval)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-page-context", _buttons, priority=900)
    app.connect("build-finished", build_edition)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
