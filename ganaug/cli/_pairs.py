"""``NAME=VALUE`` flag values (``--model-option generator_filters=32``, ``--counts basophil=5``) -> a dict."""

import json


def parse_pairs(tokens, flag, *, convert=None, form="KEY=VALUE"):
    """Returns ``{name: value}`` from ``NAME=VALUE`` strings.

    Args:
        tokens: the flag's strings.
        flag: the flag, for messages (``"--counts"``).
        convert: turns the value text into the value (raising ValueError for a bad one); None
            reads it as JSON when it parses and keeps the text otherwise.
        form: how the pairs are written, for messages (``"CLASS=COUNT"``).

    Raises:
        ValueError: for a token without ``=`` or a name, or a value ``convert`` refuses, naming it.
    """
    values = {}
    for token in tokens:
        name, separator, text = token.partition("=")
        if not separator or not name:
            raise ValueError(f"`{flag}` takes {form} pairs. Received: {flag} {token}")
        values[name] = _json_or_text(text) if convert is None else _converted(convert, text, flag, token, form)
    return values


def _json_or_text(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _converted(convert, text, flag, token, form):
    try:
        return convert(text)
    except ValueError:
        raise ValueError(f"`{flag}` takes {form} pairs; {text!r} is not a valid value. Received: {flag} {token}") from None
