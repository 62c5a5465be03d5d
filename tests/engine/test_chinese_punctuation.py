"""Chinese texts use Chinese punctuation: no ASCII , : ; beside Chinese characters ("新建:" reads as
a typo to a Chinese reader; "新建：" does not). URLs and code examples inside a text keep theirs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = [
    "engine/messages.py",
    "engine/admin_messages.py",
    "engine/ops_messages.py",
    "engine/designer_messages.py",
    "engine/jobs/channel_messages.py",
    "server/pages/admin_messages.py",
]
HAN = r"[\u4e00-\u9fff]"
#: beside a Chinese character, or between placeholders / after a bracket in running Chinese text
#: ("{id}:{summary}", "(退出码 {code}):"); a code example ("{key}: ${{…}}") has a space after it
ASCII_BESIDE_HAN = re.compile(rf"{HAN}[,:;]|[,:;]{HAN}|[}})\]][,:;](?=[{{\u4e00-\u9fff]|$)")


def chinese_texts(path: Path) -> dict[str, str]:
    """Every literal zh text of a catalogue (a ``"zh": …`` entry of any dict), by where it is."""
    texts: dict[str, str] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                lang = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else ""
                if lang.split(".")[0] == "zh" and isinstance(value, ast.Constant | ast.JoinedStr | ast.BinOp):
                    try:
                        texts[f"line {key.lineno} [{lang}]"] = ast.literal_eval(value)
                    except ValueError:
                        continue
    return texts


def slips(text: str) -> list[str]:
    """The words holding an ASCII , : ; beside a Chinese character, URLs and ${{…}} left aside."""
    found = []
    for match in ASCII_BESIDE_HAN.finditer(text):
        start = max(text.rfind(" ", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
        ends = [i for i in (text.find(" ", match.end()), text.find("\n", match.end())) if i != -1]
        word = text[start : min(ends) if ends else len(text)]
        after = text[match.end() : match.end() + 1]
        if "://" not in word and after not in ("$", "/") and word not in found:
            found.append(word)
    return found


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_chinese_texts_use_full_width_commas_colons_and_semicolons(catalogue):
    texts = chinese_texts(ROOT / catalogue)
    assert texts, "the catalogue registers Chinese texts"
    wrong = {code: slips(text) for code, text in texts.items() if slips(text)}
    assert not wrong, wrong


def test_a_slip_is_caught_and_a_url_is_not():
    assert slips("表单有 5 处错误,未保存") == ["处错误,未保存"]
    assert slips("新建:{name}") == ["新建:{name}"]
    assert slips("导入任务 {id}:{summary}") == ["{id}:{summary}"]
    assert slips("然后写 {key}: ${{secrets.{name}}}") == []
    assert slips("表单有 5 处错误，未保存") == []
    assert slips("格式如 smtp+starttls://用户:密码@主机:587") == []
