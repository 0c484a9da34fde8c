"""Descriptions: HTML detection, Exchange's HTML documents, and the mirror note cut off again."""

from __future__ import annotations

from calbridge.model import Body
from calbridge.translate.text import NOTE_MARKER, body_from_graph, looks_like_html, with_note, without_note


def test_given_google_descriptions_when_classified_then_tags_mean_html_and_comparisons_do_not() -> None:
    assert looks_like_html("Agenda:<br><b>1.</b> Budget")
    assert looks_like_html('<a href="https://example.com">link</a>')
    assert not looks_like_html("if a < b and c > d")
    assert not looks_like_html("plain text\nover lines")


def test_given_an_exchange_html_document_when_read_then_only_the_body_inner_html() -> None:
    content = (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        "</head><body><p>Hi</p></body></html>"
    )
    assert body_from_graph({"contentType": "html", "content": content}) == Body("<p>Hi</p>", html=True)
    assert body_from_graph({"contentType": "text", "content": "a\r\nb"}) == Body("a\nb")
    assert body_from_graph({"contentType": "text", "content": "  "}) is None


def test_given_a_text_description_when_a_note_is_added_and_removed_then_the_description_is_back() -> None:
    noted = with_note(Body("Agenda"), ["Join: https://meet.google.com/x", "Attendees: a@example.com"])
    assert noted is not None and NOTE_MARKER in noted.content and "a@example.com" in noted.content
    assert without_note(noted) == Body("Agenda")
    assert without_note(with_note(None, ["Join: https://x.example"])) is None


def test_given_exchange_rewrote_the_html_note_when_removed_then_the_description_is_back() -> None:
    noted = with_note(Body("<p>Agenda &amp; goals</p>", html=True), ["Attendees: <b>&</b> a@example.com"])
    assert noted is not None and "&lt;b&gt;" in noted.content  # note lines are escaped, never markup
    rewritten = noted.content.replace(
        "<hr>", '<hr tabindex="-1" style="display:inline-block; width:98%">\r\n'
    )
    assert without_note(Body(rewritten, html=True)) == Body("<p>Agenda &amp; goals</p>", html=True)


def test_given_no_note_lines_when_added_then_the_description_is_unchanged() -> None:
    assert with_note(Body("x"), []) == Body("x")
    assert with_note(None, []) is None
