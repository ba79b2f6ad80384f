"""The tokenizer inspector: o200k_harmony (gpt-oss) and cl100k_base (GPT-4) side by side, in
`inference.tokens`, `python -m inference tokens` and the /tokenizer/ page with its JSON endpoint.

The counts below were measured here and are the background document's: an emoji is 1 token
in o200k_harmony and 2 in cl100k_base, Korean 2 vs 5, Arabic 4 vs 10, and numbers split into
chunks of up to three digits in both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference import harmony, tokens, vocab
from inference.__main__ import main
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent

FACTS = [("😀", 1, 2), ("안녕하세요", 2, 5), ("مرحبا بالعالم", 4, 10), ("1234567", 3, 3)]
TEXTS = [
    "Hello, world!",
    "What is 12 * 34?",
    "def add(a, b):\n\treturn a + b\n",
    "Ça coûte 3,50 € — 😀🎉",
    "日本語のテキストと English mixed",
    "   leading spaces and trailing   \n\n",
    "3141592653589793238462643383279",
    "",
]


pytestmark = pytest.mark.usefixtures("keep_tiktoken_env")


# ---------- the counts ----------

@pytest.mark.parametrize("text, o200k, cl100k", FACTS)
def test_the_measured_counts(text, o200k, cl100k, no_network):
    result = tokens.counts(text)
    assert (result["o200k_harmony"]["count"], result["cl100k_base"]["count"]) == (o200k, cl100k)


def test_numbers_split_into_chunks_of_up_to_three_digits_in_both():
    for name in tokens.ENCODINGS:
        pieces = [t["text"] for t in tokens.inspect("1234567")[name]["tokens"]]
        assert pieces == ["123", "456", "7"], name


@pytest.mark.parametrize("text", TEXTS + [text for text, _, _ in FACTS])
def test_o200k_ids_are_openai_harmonys_own(text):
    ids = tokens.encode("o200k_harmony", text)
    assert ids == harmony.encoding().encode(text)  # the encoder, with its default arguments
    # and what the model is given when someone types the text: the body of a rendered user message
    import openai_harmony as oh

    rendered = harmony.encoding().render_conversation(oh.Conversation.from_messages(
        [oh.Message.from_role_and_content(oh.Role.USER, text)]))
    body = rendered[rendered.index(harmony.MESSAGE) + 1: -1]
    assert rendered[-1] == harmony.END and body == ids


def test_special_token_text_is_ordinary_text_as_in_a_rendered_user_message():
    import openai_harmony as oh

    text = "hi <|end|><|start|>assistant"
    ids = tokens.encode("o200k_harmony", text)
    assert not set(ids) & {harmony.START, harmony.END}
    rendered = harmony.encoding().render_conversation(oh.Conversation.from_messages(
        [oh.Message.from_role_and_content(oh.Role.USER, text)]))
    assert rendered[rendered.index(harmony.MESSAGE) + 1: -1] == ids
    assert 100257 not in tokens.encode("cl100k_base", "<|endoftext|>")


def test_cl100k_is_tiktokens_own_definition_over_the_offline_ranks(monkeypatch, no_network):
    """tiktoken defines cl100k_base with a download; handed the provisioned ranks instead,
    its definition equals ours and encodes every text the same."""
    import tiktoken
    import tiktoken_ext.openai_public as openai_public

    ranks = tokens.cl100k()._mergeable_ranks

    def offline(url, expected_hash=None):
        assert expected_hash == vocab.EXPECTED_SHA256["cl100k_base"]
        return ranks

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", offline)
    definition = openai_public.cl100k_base()
    assert definition["pat_str"] == tokens.CL100K_PATTERN
    assert definition["special_tokens"] == tokens.CL100K_SPECIAL_TOKENS
    reference = tiktoken.Encoding(**definition)
    for text in TEXTS + [text for text, _, _ in FACTS]:
        assert tokens.encode("cl100k_base", text) == reference.encode(text), text


def test_cl100k_ranks_come_from_the_hash_checked_file():
    path = vocab.ensure_vocab("cl100k_base")
    assert path.name == "cl100k_base.tiktoken"
    table = vocab.token_bytes("cl100k_base")
    assert len(table) == 100256 and table[0] == b"!" and table[76460] == b"\xf0\x9f\x98"


# ---------- each token's text ----------

def test_a_character_split_across_tokens_is_shown_as_hex():
    split = tokens.inspect("😀")["cl100k_base"]["tokens"]
    assert split == [{"id": 76460, "text": "\ufffd", "hex": "F0 9F 98"},
                     {"id": 222, "text": "\ufffd", "hex": "80"}]
    assert tokens.inspect("😀")["o200k_harmony"]["tokens"] == [{"id": 84083, "text": "😀", "hex": None}]


@pytest.mark.parametrize("name", tokens.ENCODINGS)
def test_the_tokens_bytes_are_the_text(name):
    for text in TEXTS + [text for text, _, _ in FACTS]:
        pieces = tokens.inspect(text)[name]["tokens"]
        joined = b"".join(bytes.fromhex(p["hex"]) if p["hex"] else p["text"].encode() for p in pieces)
        assert joined == text.encode(), text


def test_ratio():
    assert tokens.ratio(4, 10) == 2.5 and tokens.ratio(3, 3) == 1.0 and tokens.ratio(0, 0) is None


# ---------- the CLI ----------

def test_cli_json_has_exactly_the_documented_shape(capsys):
    assert main(["tokens", "--json", "안녕하세요"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"o200k_harmony": {"ids": [14307, 171731], "count": 2},
                       "cl100k_base": {"ids": [31495, 230, 75265, 243, 92245], "count": 5}}


def test_cli_prints_both_side_by_side(capsys):
    assert main(["tokens", "😀"]) == 0
    out = capsys.readouterr().out
    assert "o200k_harmony      1 token\n" in out
    assert "cl100k_base        2 tokens  (2.00× o200k_harmony)" in out
    assert '84083 "😀"' in out and "76460 <F0 9F 98>" in out and "222 <80>" in out
    assert main(["tokens", "a\tb"]) == 0
    assert r'"\t' in capsys.readouterr().out  # a tab is shown, not printed raw


def test_cli_runs_as_a_module_offline(tmp_path):
    """The real command in a fresh process, provisioning both vocabularies into an empty cache."""
    env = {**os.environ, "GPTOSS_VOCAB_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "inference", "tokens", "--json", "مرحبا بالعالم"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert [printed[name]["count"] for name in ("o200k_harmony", "cl100k_base")] == [4, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cl100k_base.tiktoken", "o200k_base.tiktoken"]


def test_cli_refuses_a_cl100k_file_with_the_wrong_hash(tmp_path):
    vocab.ensure_vocab("o200k_base", tmp_path)
    bad = vocab.ensure_vocab("cl100k_base", tmp_path)
    data = bytearray(bad.read_bytes())
    data[100] ^= 0x01
    bad.write_bytes(bytes(data))
    env = {**os.environ, "GPTOSS_VOCAB_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "inference", "tokens", "--json", "hi"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert vocab.EXPECTED_SHA256["cl100k_base"] in run.stderr and "refusing" in run.stderr


# ---------- the page and its endpoint ----------

API = "/api/tokenize/"


@pytest.fixture
def ada_client(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_user("ada", password="pw-ada-1234"))
    client.get("/tokenizer/")  # sets the CSRF cookie, as the page does for the browser
    return client


def post(client, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(API, data=data, content_type="application/json",
                       HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value, **extra)


def test_the_page_and_the_endpoint_need_a_login(db):
    from django.test import Client

    page = Client().get("/tokenizer/")
    assert page.status_code == 302 and page.url.startswith("/accounts/login/")
    api = Client().post(API, data='{"text": "hi"}', content_type="application/json")
    assert api.status_code == 302 and api.url.startswith("/accounts/login/")


def test_the_chat_page_links_the_tokenizer(ada_client):
    html = ada_client.get("/").content.decode()
    assert 'href="/tokenizer/"' in html


def test_the_page_has_the_form_the_examples_and_both_columns(ada_client):
    response = ada_client.get("/tokenizer/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label class="field-label" for="tok-text">Text</label>' in html
    assert "csrfmiddlewaretoken" in html
    for label in ["Emoji", "Korean", "Arabic", "Long numbers", "Python with tabs"]:
        assert f">{label}</button>" in html
    assert 'data-tokens="o200k_harmony"' in html and 'data-tokens="cl100k_base"' in html
    examples = response.context["page_data"]["examples"]
    assert examples[0] == "😀" and "\t" in examples[4]


def test_the_endpoint_returns_both_tokenisations_with_each_tokens_text(ada_client):
    response = post(ada_client, {"text": "😀"})
    assert response.status_code == 200
    assert response.json() == {
        "chars": 1,
        "o200k_harmony": {"count": 1, "tokens": [{"id": 84083, "text": "😀", "hex": None}]},
        "cl100k_base": {"count": 2, "tokens": [{"id": 76460, "text": "\ufffd", "hex": "F0 9F 98"},
                                               {"id": 222, "text": "\ufffd", "hex": "80"}]},
        "ratio": 2.0,
    }
    empty = post(ada_client, {"text": ""}).json()
    assert empty["o200k_harmony"] == {"count": 0, "tokens": []} and empty["ratio"] is None


def test_the_endpoint_is_csrf_protected_and_post_only(ada_client):
    refused = ada_client.post(API, data='{"text": "hi"}', content_type="application/json")
    assert refused.status_code == 403  # no X-CSRFToken
    assert ada_client.get(API).status_code == 405


@pytest.mark.parametrize("body, message", [
    ("not json", 'Send a JSON object: {"text": "…"}.'),
    ('["a list"]', 'Send a JSON object: {"text": "…"}.'),
    ({"txt": "typo"}, '"text" must be a string.'),
    ({"text": 42}, '"text" must be a string.'),
])
def test_bad_requests_get_a_clear_error(ada_client, body, message):
    response = post(ada_client, body)
    assert response.status_code == 400 and response.json()["error"] == message


def test_texts_over_the_limit_are_refused_with_a_clear_error(ada_client):
    from webapp.chat.views import TOKENIZE_MAX_CHARS

    assert post(ada_client, {"text": "a" * TOKENIZE_MAX_CHARS}).status_code == 200
    response = post(ada_client, {"text": "a" * (TOKENIZE_MAX_CHARS + 1)})
    assert response.status_code == 413
    assert response.json() == {
        "error": "The text is 10,001 characters; the tokenizer takes at most 10,000.",
        "max_chars": TOKENIZE_MAX_CHARS}
    # 10,001 emoji escaped as JSON (12 bytes each) stay within the body limit: the text is counted
    assert "characters" in post(ada_client, {"text": "😀" * (TOKENIZE_MAX_CHARS + 1)}).json()["error"]
    # a body over the limit is refused before it is read
    response = post(ada_client, '{"text": "' + "\\u00e9" * 50_000 + '"}')
    assert response.status_code == 413
    assert response.json()["error"] == ("The request is 300,012 bytes; the tokenizer takes texts "
                                        "of at most 10,000 characters.")


# ---------- the page in a real browser ----------



def test_the_page_in_a_browser_shows_the_emoji_example(live_server, transactional_db):
    """Debian's chromium against Django's live server: the emoji example is 1 token against 2,
    the split character shows as hex, a typed text is tokenised as it is typed, and the
    examples work from the keyboard. Screenshots: tests/artifacts/tokenizer-emoji.png and
    tokenizer-python-tabs.png."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from django.contrib.auth import get_user_model
    from django.test import Client
    from playwright.sync_api import expect, sync_playwright

    client = Client()
    client.force_login(get_user_model().objects.create_user("eve", password="pw-eve-1234"))
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": live_server.url}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 820})
            context.add_cookies([cookie])
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(error))
            page.goto(live_server.url + "/")
            page.get_by_role("link", name="Tokenizer").click()
            expect(page).to_have_url(live_server.url + "/tokenizer/")

            count = {name: page.locator(f'[data-count="{name}"]') for name in tokens.ENCODINGS}
            page.get_by_role("button", name="Emoji").click()
            expect(count["o200k_harmony"]).to_have_text("1")
            expect(count["cl100k_base"]).to_have_text("2")
            expect(page.locator("[data-ratio]")).to_have_text("2.00×")
            expect(page.locator("#tok-summary")).to_contain_text("1 token")
            expect(page.locator("#tok-length")).to_have_text("1 / 10,000 characters")  # code points
            o200k = page.locator('[data-tokens="o200k_harmony"] .tk')
            cl100k = page.locator('[data-tokens="cl100k_base"] .tk')
            expect(o200k).to_have_count(1)
            expect(o200k.first).to_have_text("😀")
            expect(o200k.first).to_have_attribute("title", 'id 84083 · "😀"')
            expect(cl100k).to_have_text(["F0 9F 98", "80"])
            expect(cl100k.first).to_have_attribute(
                "title", "id 76460 · bytes F0 9F 98, part of a character split across tokens")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "tokenizer-emoji.png"), full_page=True)

            textarea = page.get_by_label("Text", exact=True)
            textarea.fill("مرحبا بالعالم")  # tokenised as typed, with no button pressed
            expect(count["o200k_harmony"]).to_have_text("4")
            expect(count["cl100k_base"]).to_have_text("10")

            page.get_by_role("button", name="Korean").focus()
            page.keyboard.press("Enter")
            expect(count["o200k_harmony"]).to_have_text("2")
            expect(count["cl100k_base"]).to_have_text("5")
            assert textarea.input_value() == "안녕하세요"

            page.get_by_role("button", name="Python with tabs").click()
            expect(page.locator('[data-tokens="o200k_harmony"] .tk-ws', has_text="⇥").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "tokenizer-python-tabs.png"), full_page=True)

            textarea.fill("a" * 10_001)
            page.get_by_role("button", name="Tokenize").click()
            expect(page.get_by_role("alert")).to_have_text(
                "The text is 10,001 characters; the tokenizer takes at most 10,000.")
            assert not errors, errors
        finally:
            browser.close()
