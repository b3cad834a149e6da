"""Numbers come from files or cells: every number quoted in a lesson's prose has a source the reader can check.

Every number with two or more significant digits in a notebook's markdown (0.79, 9.77, 98.9 %, 6,559, 28) must
  - appear in that notebook's code (a literal or a string in a code cell, comments excluded), or
  - be a value of a results file, benchmarks/results/*.json, that the notebook names (e.g. "compare.json" in the
    cell that reads it), or
  - be on the short list below (CONSTANTS, PUBLISHED), each entry with its reason; a constant also carries the
    expression the test evaluates, so a wrong constant fails too.
A quoted number matches a value that rounds to it at the quoted precision (0.79 matches 0.7912; "98.9 %" also
matches 0.9889). The README is checked against every results file and the list.

Outputs are not committed (notebooks are stripped), so a number that a cell prints is not in the notebook file:
write the prose so that it refers to the printed value ("the table above"), or assert the number in code.

Not counted: one-significant-digit numbers (0.5, 100, 10,000, 5e-4), identifiers with a leading zero (notebook
"06", file mode 0644), years of citations
(a four-digit 19xx/20xx without a thousands comma), section/notebook/equation/figure numbers after their word,
numbered headings and list markers, the header's time estimate (measured by `make bench-notebooks`), links,
URLs, arXiv identifiers, inline code and code blocks, LaTeX exponents and subscripts, and References sections.
"""
import json
import math
import re
import tokenize
from io import StringIO
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
PAGES = NOTEBOOKS + sorted((ROOT / "book").glob("*.ipynb"))

# Constants quoted in prose: (where, number as written) -> (expression the test evaluates, reason). `where` is a
# notebook's number prefix ("05"), "README", or "*" for every page.
CONSTANTS = {
    ("*", "98.9"): ("100 * (1 - math.exp(-4.5))",
                    "share of a 2-D Gaussian within 3 standard deviations of its mean, 1 - e^(-9/2)"),
    ("*", "28"): ("28", "MNIST images are 28 x 28 pixels"),
    ("*", "784"): ("28 * 28", "pixels of an MNIST image"),
    ("01", "1.25"): ("(0.5 - 1) ** 2 + 1", "E(z - 1)^2 for z ~ N(0.5, 1): the test function's mean per dimension"),
    ("04", "13"): ("(28 - 4) // 2 + 1", "a side of 28 after a convolution with kernel 4, stride 2, no padding"),
    ("06", "2.3"): ("math.log(10)", "log 10: the entropy of ten equally frequent digits, in nats"),
    ("05", "24.5"): ("100 * (1 - math.exp(-9 / 32))",
                     "share of a Gaussian 4 times too wide within 3 sigma of its mode, derived in the text"),
    ("05", "7.6"): ("100 * 8 * 4 * math.asin(0.015) / (2 * math.pi)",
                    "share of the uniform circle within 3 sigma of one of the 8 modes, derived in the text"),
    ("*", "0.999"): ("0.999", "a recipe's constant: Adam's beta_2 (Radford et al.'s betas (0.5, 0.999)), the EMA decay"),
    ("06", "250"): ("250", "an exercise's suggested sample size"),
    ("ap", "2.5"): ("100 * 0.025", "metrics.sample_quality's threshold: a digit counts with at least 2.5 % of the labels"),
    ("09", "45"): ("math.sqrt(2 * 999)", "standard deviation of a chi-square with 999 degrees of freedom"),
    ("09", "26"): ("26", "the published protocol's N = 26,000, written 26{,}000 in LaTeX"),
    ("09", "6.91"): ("math.log(1000)", "log 1000: the KL to uniform of one mode among 1,000, in nats"),
    ("09", "2.30"): ("math.log(10)", "log 10: the KL to uniform of 100 equally likely modes among 1,000, in nats"),
    ("09", "25"): ("25", "the 5 x 5 grid of Gaussians of notebook 05"),
}
# Published numbers from papers: (where, number as written) -> the citation it comes from.
PUBLISHED = {}

YEAR = re.compile(r"(19|20)\d\d")
NUMBER = re.compile(r"(?<![\w.\\])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:[eE][-−+]?\d+)?(?![\w.]*\d)")
WORDS = (r"sections?|§+|sec\.|chapters?|equations?|eqs?\.|eqn\.|figures?|figs?\.|tables?|notebooks?|lessons?|"
         r"exercises?|appendix|theorem|lemma|proposition|parts?|step \d+ of|pages?|pp?\.|python|pytorch|torch|"
         r"version|v|cell|item|row")
REFERENCE = re.compile(rf"(?i)\b(?:{WORDS})\s*\(?\d+(?:\.\d+)*(?:\s*(?:[–—-]|,|and|or|&)\s*\d+(?:\.\d+)*)*")
STRIP = [
    re.compile(r"```.*?```", re.S),                              # code blocks
    re.compile(r"`[^`\n]*`"),                                    # inline code
    re.compile(r"<[^>\n]*>"),                                    # HTML tags
    re.compile(r"\]\([^)\s]*\)"),                                # link targets
    re.compile(r"https?://\S+"),                                 # bare URLs
    re.compile(r"(?i)\b(?:arxiv|doi):\s*\S+"),                   # identifiers of papers
    re.compile(r"(?m)^\s*\**Estimated time.*$"),                 # the header's time (scripts/bench_notebooks.py)
    re.compile(r"(?m)^\s{0,3}#+\s*\d+(?:\.\d+)*\.?"),            # numbered headings
    re.compile(r"(?m)^\s*\d+[.)]\s"),                            # numbered list items
    re.compile(r"[\^_]\{?\s*[-−+]?\s*\d+(?:\.\d+)?"),            # LaTeX exponents and subscripts
    re.compile(r"\d+(?:\.\d+){2,}"),                             # version numbers (2.2.1)
    REFERENCE,
]
HEADING = re.compile(r"(?m)^(#+)\s*(.*)$")


def significant_digits(integer, fraction):
    """Significant digits of a number written as integer part (maybe with thousands commas) and '.fraction'."""
    digits = integer.replace(",", "")
    if fraction:
        return len((digits + fraction[1:]).lstrip("0"))
    return len(digits.lstrip("0").rstrip("0"))


def drop_references(markdown):
    """The markdown without its References sections (from the heading to the next heading of its level or above)."""
    out, skipping = [], None
    for line in markdown.splitlines():
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            if skipping is not None and level <= skipping:
                skipping = None
            if skipping is None and re.search(r"(?i)\breferences\b|\bfurther reading\b", heading.group(2)):
                skipping = level
        if skipping is None:
            out.append(line)
    return "\n".join(out)


def percent_columns(text):
    """[(start, end)] of the markdown table cells whose column's header says % (their numbers are percentages)."""
    spans, header, offset = [], None, 0
    for line in text.splitlines(True):
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [m.span() for m in re.finditer(r"[^|]+", line)]
            if header is None:
                header = ["%" in line[a:b] or "percent" in line[a:b].lower() for a, b in cells]
            else:
                spans += [(offset + a, offset + b) for (a, b), pc in zip(cells, header) if pc]
        else:
            header = None
        offset += len(line)
    return spans


def prose_numbers(markdown):
    """[(written, value, decimals, percent, context)] for the numbers with >= 2 significant digits in markdown."""
    text = drop_references(markdown)
    for pattern in STRIP:
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    in_percent_column = percent_columns(text)
    found = []
    for m in NUMBER.finditer(text):
        integer, fraction = m.group(1), m.group(2) or ""
        if not fraction and "," not in integer and YEAR.fullmatch(integer):
            continue  # a year (the course writes counts with a thousands comma: 2,000 steps)
        if not fraction and len(integer) > 1 and integer.startswith("0"):
            continue  # an identifier, not a quantity: notebook 06, file mode 0644
        mantissa = integer + fraction
        if significant_digits(integer, fraction) < 2:
            continue
        written = m.group().replace("−", "-")
        value = float(mantissa.replace(",", "")) * float("1" + written[len(mantissa):]) if written != mantissa \
            else float(mantissa.replace(",", ""))
        decimals = len(fraction) - 1 if fraction else 0
        exponent = re.search(r"[eE]([-+]?\d+)", written)
        if exponent:
            decimals -= int(exponent.group(1))
        # "98.9 %", and the first of "57.6 → 89.9 %" or "96.0 and 96.8 %"
        percent = bool(re.match(r"\s*(?:(?:→|->|–|-|to|and|against|vs\.?|/)\s*[\d.,]+\s*)?(?:\\?%|percent)",
                                text[m.end():])) or any(a <= m.start() < b for a, b in in_percent_column)
        context = " ".join(text[max(0, m.start() - 50):m.end() + 30].split())
        found.append((m.group(), value, decimals, percent, context))
    return found


def code_numbers(source):
    """Numbers in a code cell: its numeric literals and the numbers inside its strings, not its comments."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    values = []
    try:
        tokens = list(tokenize.generate_tokens(StringIO("\n".join(lines) + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = [tokenize.TokenInfo(tokenize.STRING, re.sub(r"#.*", "", line), 0, 0, "") for line in lines]
    for token in tokens:
        if token.type == tokenize.NUMBER:
            try:
                values.append(float(token.string.replace("_", "").rstrip("jJ")))
            except ValueError:
                pass
        elif token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)):
            values += [float(n.replace(",", "").replace("_", "")) for n in
                       re.findall(r"\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", token.string)]
    return values


def json_numbers(value):
    """Every number in a parsed JSON value."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in json_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in json_numbers(v)]
    if isinstance(value, str):  # "0.79" in a label
        return [float(n) for n in re.findall(r"\d+\.\d+", value)]
    return []


def results_files():
    return sorted(RESULTS.glob("*.json"))


def named_results(text):
    """The results files a notebook names (by file name, or by stem as a quoted string in its code)."""
    return [p for p in results_files() if p.name in text or f'"{p.stem}"' in text or f"'{p.stem}'" in text]


def matches(value, decimals, percent, sources):
    """Whether a source value rounds to the quoted number at its precision (x 100 too for a percentage)."""
    half = 0.5 * 10.0 ** -decimals * (1 + 1e-9)
    for v in sources:
        for candidate in ((abs(v), abs(v) * 100) if percent else (abs(v),)):
            if abs(candidate - abs(value)) <= half:
                return True
    return False


def allowed(prefix, written):
    return any(key in CONSTANTS or key in PUBLISHED for key in (("*", written), (prefix, written)))


def offenders(markdown_cells, sources, prefix, where):
    bad = []
    for index, markdown in markdown_cells:
        for written, value, decimals, percent, context in prose_numbers(markdown):
            if allowed(prefix, written) or matches(value, decimals, percent, sources):
                continue
            bad.append(f"{where} cell {index}: {written}{' %' if percent else ''}  ...{context}...")
    return bad


def notebook_offenders(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    everything = "\n".join(c.source for c in nb.cells)
    sources = [n for source in code for n in code_numbers(source)]
    for results in named_results(everything):
        sources += json_numbers(json.loads(results.read_text()))
    markdown = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    return offenders(markdown, sources, path.name[:2], path.name)


HOW_TO_FIX = ("\nEach number above is in no code cell of its notebook, no results file the notebook names, and not on "
              "tests/test_provenance.py's list. Fix: have a cell compute and print it and refer to the printed value "
              "in the prose (\"the table above\"), assert it in code, read it from benchmarks/results/*.json (and "
              "name the file), or, for a constant or a published number, add it to the list with its reason.")


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_every_number_in_the_prose_has_a_source(path):
    bad = notebook_offenders(path)
    assert not bad, f"{len(bad)} number(s) without a source:\n" + "\n".join(bad) + HOW_TO_FIX


def test_every_number_in_the_readme_has_a_source():
    readme = (ROOT / "README.md").read_text()
    sources = [n for p in results_files() for n in json_numbers(json.loads(p.read_text()))]
    bad = offenders([(0, readme)], sources, "README", "README.md")
    assert not bad, f"{len(bad)} number(s) without a source:\n" + "\n".join(bad) + HOW_TO_FIX.replace(
        "no code cell of its notebook, no results file the notebook names", "no results file")


# ---------------------------------------------------------------- the list and the extraction themselves

@pytest.mark.parametrize("where, written", sorted(CONSTANTS))
def test_each_constant_is_what_its_expression_gives(where, written):
    expression, reason = CONSTANTS[where, written]
    assert reason.strip()
    decimals = len(written.split(".")[1]) if "." in written else 0
    assert round(eval(expression, {"math": math}), decimals) == float(written), (written, expression)


def test_each_listed_number_is_quoted_somewhere():
    quoted = {(p.name[:2], w) for p in PAGES for c in nbformat.read(p, as_version=4).cells
              if c.cell_type == "markdown" for w, *_ in prose_numbers(c.source)}
    quoted |= {("README", w) for w, *_ in prose_numbers((ROOT / "README.md").read_text())}
    everywhere = {w for _, w in quoted}
    unused = [f"{p}: {w}" for p, w in [*CONSTANTS, *PUBLISHED]
              if (p == "*" and w not in everywhere) or (p != "*" and (p, w) not in quoted)]
    assert not unused, f"listed but quoted nowhere (remove them, the list stays short): {unused}"
    assert all(reason.strip() for reason in PUBLISHED.values())


def _written(markdown):
    return [w for w, *_ in prose_numbers(markdown)]


def test_extraction_finds_measured_numbers():
    text = "The GAN reaches IS 7.0 (66 % confident), real digits 9.77; after 6,559 steps the loss is 0.79."
    assert _written(text) == ["7.0", "66", "9.77", "6,559", "0.79"]
    found = {w: (v, d, pc) for w, v, d, pc, _ in prose_numbers(text)}
    assert found["6,559"] == (6559.0, 0, False) and found["66"] == (66.0, 0, True) and found["9.77"][1] == 2
    assert _written("a rate of 2.5e-4 and $\\approx 98.9\\%$") == ["2.5e-4", "98.9"]
    assert [pc for *_, pc, _ in prose_numbers("from 57.6 → 89.9 %, 96.0 and 96.8 % but 24.3 against 24.0")] == \
        [True, True, True, True, False, False]
    assert prose_numbers("a rate of 2.5e-4")[0][2] == 5  # 2.5e-4 is quoted to 0.00001
    table = "| row | steps | HQ % |\n| --- | ---: | ---: |\n| a | 6,500 | 62.4 → 92.6 |\n\nThen 12.5."
    assert [(w, pc) for w, _, _, pc, _ in prose_numbers(table)] == \
        [("6,500", False), ("62.4", True), ("92.6", True), ("12.5", False)]


def test_extraction_skips_what_is_not_a_quoted_number():
    text = ("# 06 · Comparing\n## 12. Twelve\n**Estimated time on a laptop CPU:** about 12 min\n"
            "Goodfellow et al. (2014) and Lin et al., 2018; see section 12, notebook 06, equation (14), "
            "Sections 11–13, Python 3.11 and torch 2.2.1. [a link](https://x.org/a/0.79) `lr=0.25` "
            "<img width=\"45\">\n"
            "10. an item; one significant digit: 0.5, 100, 10,000, 5e-4, 0.05 and $10^{-12}$, $x_{12}$, $2^{16}$\n"
            "file mode 0644, notebook 06's table\n"
            "```\nz = 0.375\n```\narXiv:1406.2661\n## References\n- Kingma (2014), 27(3), 2672-2680.\n## Next\n12.5")
    assert _written(text) == ["12.5"]


@pytest.mark.parametrize("quoted, value, percent, ok", [
    ("0.79", 0.7912, False, True), ("0.79", 0.7951, False, False), ("0.79", 0.785, False, True),
    ("98.9", 0.98889, True, True), ("98.9", 0.98889, False, False), ("6,559", 6559, False, True),
    ("6,559", 6560, False, False), ("1.4e-3", 0.00138, False, True), ("1.4e-3", 0.00131, False, False),
])
def test_a_quoted_number_matches_a_source_at_its_precision(quoted, value, percent, ok):
    (written, v, decimals, _, _), = prose_numbers(quoted + (" %" if percent else ""))
    assert matches(v, decimals, percent, [value]) is ok


def test_code_numbers_are_literals_and_strings_not_comments():
    source = "%matplotlib inline\nx = 0.79  # about 9.77\nprint(f'IS {x:.2f} of 6,559 steps, paper 8.8')\ny = 1_000"
    assert code_numbers(source) == [0.79, 2.0, 6559.0, 8.8, 1000.0]


def test_a_notebook_uses_only_the_results_files_it_names(tmp_path):
    names = {p.name for p in named_results("json.loads((RESULTS / 'compare.json').read_text())")}
    assert names == ({"compare.json"} if (RESULTS / "compare.json").is_file() else set())
    assert named_results("no file here") == []
