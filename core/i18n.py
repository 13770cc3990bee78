"""One message catalogue for every word kpigraph shows people (pages, CLI, lint, explain, errors).

The ecosystem's way: gettext message ids in English, one catalogue per language under
``core/locale/<lang>/LC_MESSAGES/kpigraph.po`` (shipped as package data and read at run time, so
a fresh ``pip install -e .`` needs no compile step), Babel for numbers.

* ``from core.i18n import _`` then ``_("Search")`` — the one entry point for Python code;
  templates use Jinja2's i18n extension (``{% trans %}…{% endtrans %}`` / ``{{ _("…") }}``).
* The language is the catalog's ``language`` (``kpigraph.yaml``), overridden per HTTP request
  (``?lang=``, ``Accept-Language``) or per CLI call (``--lang``): :func:`use` sets it for a block,
  :func:`current` reads it.
* Adding a string: write it in English inside ``_()`` / ``{% trans %}`` (a command's docstring
  and an option's ``help=`` are extracted as they are: ``core/i18n_extract.py``), then
  ``PYTHONPATH=. pybabel extract -F core/locale/babel.cfg -o /tmp/kpigraph.pot .`` and
  ``pybabel update -i /tmp/kpigraph.pot -d core/locale -D kpigraph`` and fill in ``zh``'s
  ``msgstr`` (the ``en`` catalogue may leave ``msgstr`` empty: English ids are English text).
  ``tests/unit/test_i18n_catalogue.py`` fails on an id missing from either catalogue.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import gettext as gettext_module
import hashlib
import importlib.util
import io
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Babel's number and locale data are imported when a number is formatted
    from babel import Locale

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kpigraph"
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
#: Babel locale per language (numbers, plural rules)
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_US"}

#: the language chosen for this request / command (``?lang=``, ``Accept-Language``, ``--lang``)
_chosen: contextvars.ContextVar[str | None] = contextvars.ContextVar("kpigraph_lang", default=None)
#: where the catalog's own language comes from when nothing was chosen (the served store)
_fallback: contextvars.ContextVar[Callable[[], str | None] | None] = contextvars.ContextVar(
    "kpigraph_lang_fallback", default=None
)


def normalize(lang: object) -> str | None:
    """``zh-CN``, ``zh_Hans``, ``ZH`` → ``zh``; ``en-US`` → ``en``; anything else → None.

    >>> normalize("zh-CN"), normalize("en_US"), normalize("fr"), normalize(None)
    ('zh', 'en', None, None)
    """
    if not isinstance(lang, str) or not lang.strip():
        return None
    base = re.split(r"[-_]", lang.strip(), maxsplit=1)[0].lower()
    return base if base in LANGUAGES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header, or None.

    >>> negotiate("fr-FR,fr;q=0.9,en;q=0.8,zh;q=0.7")
    'en'
    >>> negotiate("zh-CN,zh;q=0.9"), negotiate("de"), negotiate(None)
    ('zh', None, None)
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        lang = normalize(tag)
        if lang and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def current() -> str:
    """The language in use: chosen for this request/command, else the catalog's, else zh."""
    chosen = _chosen.get()
    if chosen:
        return chosen
    fallback = _fallback.get()
    if fallback is not None:
        lang = normalize(fallback())
        if lang:
            return lang
    return DEFAULT_LANGUAGE


def chosen() -> str | None:
    """The language this request or command chose (``--lang``, ``?lang=``), if any: what a
    client passes on to a server it asks (``Accept-Language``)."""
    return _chosen.get()


def resolve(catalog_language: object) -> str:
    """The language for a catalog whose ``language`` is ``catalog_language``: what this
    request/command chose, else the catalog's, else zh."""
    return _chosen.get() or normalize(catalog_language) or DEFAULT_LANGUAGE


@contextlib.contextmanager
def use(lang: object) -> Iterator[None]:
    """Speak ``lang`` (when it is one of :data:`LANGUAGES`) inside the block. Nothing is
    resolved on entry: the catalog's language is asked for only when a text needs it, so
    ``/api/ping`` and ``/health`` never touch the store."""
    token = _chosen.set(normalize(lang) or _chosen.get())
    try:
        yield
    finally:
        _chosen.reset(token)


@contextlib.contextmanager
def in_language_of(meta: Any) -> Iterator[None]:
    """Speak the catalog's ``language`` (``meta`` of a graph or a store; zh without one) inside
    the block, whatever this request or command chose: for text that is kept or sent to
    others (notifications, reports, change reasons), one language per catalog."""
    lang = meta.get("language") if isinstance(meta, dict) else None
    with use(normalize(lang) or DEFAULT_LANGUAGE):
        yield


def choose(lang: object) -> contextvars.Token[str | None]:
    """Speak ``lang`` from now on in this context (a CLI call's ``--lang``); the token undoes
    it (:func:`unchoose`) when the command ends, so a command run in-process (a test's
    ``CliRunner``) leaves no language behind for the next."""
    return _chosen.set(normalize(lang))


def unchoose(token: contextvars.Token[str | None]) -> None:
    """Undo :func:`choose`."""
    _chosen.reset(token)


def remember_language(exc: BaseException) -> None:
    """Note on ``exc`` the language spoken where it was raised (the first note wins): the CLI
    reports an error after the command's language was undone, and speaks it then."""
    if getattr(exc, "kpigraph_language", None) is None:
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            exc.kpigraph_language = current()  # type: ignore[attr-defined]


def language_of(exc: BaseException) -> str | None:
    """What :func:`remember_language` noted on ``exc``."""
    lang = getattr(exc, "kpigraph_language", None)
    return lang if isinstance(lang, str) else None


FallbackToken = contextvars.Token[Callable[[], str | None] | None]


class _Once:
    """The catalog's language, asked of ``source`` at most once."""

    def __init__(self, source: Callable[[], str | None]) -> None:
        self.source = source
        self.memo: list[str | None] = []

    def __call__(self) -> str | None:
        if not self.memo:
            try:
                self.memo.append(self.source())
            except Exception:  # no catalog loaded, store down: the default language
                self.memo.append(None)
        return self.memo[0]


def set_fallback(source: Callable[[], str | None] | None) -> FallbackToken:
    """Where :func:`current` finds the catalog's language when nothing was chosen (asked at
    most once per :func:`set_fallback`: a request or a command reads one catalog)."""
    if source is None:
        return _fallback.set(None)
    return _fallback.set(_Once(source))


def settled() -> str | None:
    """The language in use when it is known without asking the store now: chosen, or the
    catalog's once a text of this request needed it; else None (``/health`` stays cheap)."""
    lang = _chosen.get()
    if lang:
        return lang
    fallback = _fallback.get()
    if isinstance(fallback, _Once):
        return (normalize(fallback.memo[0]) or DEFAULT_LANGUAGE) if fallback.memo else None
    return DEFAULT_LANGUAGE if fallback is None else None


def reset_fallback(token: FallbackToken) -> None:
    _fallback.reset(token)


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of ``lang`` (read from its ``.po`` once per process; the
    compilation is kept for later processes, see :func:`_kept_mo`)."""
    po = (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").read_bytes()
    kept = _kept_mo(lang, po)
    if kept is not None:
        from core.cache_root import read_private

        # only this user's own: a planted catalogue's "{x.__init__.__globals__…}" would be
        # filled in by _() (environment, secrets) and shown on pages
        mo = read_private(kept)
        try:
            if mo is not None:
                return Translations(mo)
        except (OSError, ValueError, OverflowError, UnicodeDecodeError, struct.error):
            pass  # not kept yet, or damaged: compiled again
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(po), locale=BABEL_LOCALES.get(lang, lang), domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    if kept is not None:
        _keep_mo(kept, buf.getvalue())
    return Translations(buf.getvalue())


class Translations(gettext_module.GNUTranslations):
    """A compiled catalogue (the standard library's: Babel's ``Translations`` only adds the
    Python 2 names, and importing it imports Babel's date machinery, ~0.03 s a command)."""

    _catalog: dict[Any, str]  # set by GNUTranslations._parse (msgid or (msgid, n) → text)
    ugettext = gettext_module.GNUTranslations.gettext
    ungettext = gettext_module.GNUTranslations.ngettext

    def __init__(self, mo: bytes) -> None:
        super().__init__(io.BytesIO(mo))


def _kept_mo(lang: str, po: bytes) -> Path | None:
    """Where the ``.mo`` compiled from ``po`` is kept between processes (``None``: caching
    is off): in the per-user cache directory, named by the catalogue's content and Babel's
    version — parsing the ``.po`` cost a command ~0.03 s of CPU and Babel's message
    machinery ~0.02 s more of imports (issue #23: a one-file ``load`` is ~0.5 s)."""
    from core.cache_root import default_cache_root

    root = default_cache_root()
    if root is None:
        return None
    # Babel's version, from its package file, not by importing it (babel.core, ~8 ms)
    spec = importlib.util.find_spec("babel")
    try:
        version = Path(spec.origin).read_bytes() if spec and spec.origin else b""
    except OSError:
        version = b""
    tag = hashlib.sha256(po + b"\0" + version).hexdigest()[:24]
    return root / "i18n" / f"{DOMAIN}-{lang}-{tag}.mo"


#: compilations kept per language (the newest)
_KEPT_MO = 8


def _keep_mo(where: Path, mo: bytes) -> None:
    """Write ``mo`` at ``where`` atomically (all but the newest compilations of the language
    removed); never an error: the next process compiles it again."""
    try:
        from core.cache_root import write_private

        if not write_private(where, lambda fh: fh.write(mo), ".motmp"):
            return  # another user's folder: not written there (nor read, see translations)
        stem = where.name.rsplit("-", 1)[0]
        kept = sorted(
            where.parent.glob(f"{stem}-*.mo"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in kept[_KEPT_MO:]:  # several checkouts of other versions may share the cache
            old.unlink(missing_ok=True)
    except OSError:
        pass


#: ids looked up that the catalogue of the language in use does not have, with the language
#: (the catalogue-completeness tests read and clear it; bounded so a server cannot grow it)
MISSES: set[tuple[str, str]] = set()
_MISSES_MAX = 1000


def _known(lang: str, key: str | tuple[str, int]) -> bool:
    catalog: dict[Any, str] = translations(lang)._catalog
    if key in catalog:
        return True
    if len(MISSES) < _MISSES_MAX:
        MISSES.add((lang, key if isinstance(key, str) else key[0]))
    return False


def gettext(message: str) -> str:
    """``message`` (an English id) in the current language."""
    lang = current()
    _known(lang, message)
    return translations(lang).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the current language."""
    lang = current()
    _known(lang, (singular, 0))
    return translations(lang).ungettext(singular, plural, n)


def _(message: str, **values: object) -> str:
    """``message`` in the current language, ``{name}`` fields filled from ``values``.

    >>> with use("zh"):
    ...     _("Search")
    '搜索'
    >>> with use("en"):
    ...     _("Search")
    'Search'
    """
    text = gettext(message)
    return text.format(**values) if values else text


def babel_locale(lang: str | None = None) -> Locale:
    from babel import Locale

    return Locale.parse(BABEL_LOCALES.get(lang or current(), "en_US"))


def number(value: float | int | None, *, integer: bool = False, digits: int = 2) -> str:
    """A number in the current language's style (thousands separators; integers for counts).

    >>> with use("en"):
    ...     number(1879.0, integer=True), number(-17717.0), number(None)
    ('1,879', '-17,717', '—')
    """
    if value is None:
        return "—"
    from babel.numbers import format_decimal

    if integer:
        return format_decimal(round(value), format="#,##0", locale=babel_locale())
    fmt = "#,##0." + "#" * digits if digits else "#,##0"
    return format_decimal(value, format=fmt, locale=babel_locale())


def compact(value: float | int | None, *, digits: int = 1) -> str:
    """A large number shortened the language's way: 万/亿 in zh, K/M/B in en.

    >>> with use("zh"):
    ...     compact(2508000), compact(-262000), compact(1536.52)
    ('250.8万', '-26.2万', '1,537')
    >>> with use("en"):
    ...     compact(2508000)
    '2.5M'
    """
    if value is None:
        return "—"
    if abs(value) < 10_000:
        return number(value, digits=0 if abs(value) >= 100 else 2)
    from babel.numbers import format_compact_decimal

    return format_compact_decimal(value, locale=babel_locale(), fraction_digits=digits)


def percent(fraction: float | None, *, digits: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage (``0.417`` → ``41.7%``), optionally signed.

    >>> with use("en"):
    ...     percent(0.417), percent(-0.0255, signed=True)
    ('41.7%', '−2.6%')
    """
    if fraction is None:
        return "—"
    from babel.numbers import format_percent

    pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    text = format_percent(
        abs(fraction) if signed else fraction, format=pattern, locale=babel_locale()
    )
    if signed:
        return ("+" if fraction > 0 else "−" if fraction < 0 else "") + text
    return text


@dataclasses.dataclass(frozen=True)
class Said:
    """A message kept to be worded later, in the language in use *then*: what a long-lived
    engine caches (a metric's note, a refusal's reason) or an error carries past the request
    that raised it. ``str()`` words it; values that are :class:`Said` are worded too.

    >>> note = Said.of(N_("its sql is refused: {reason}"), reason=Said.of(N_("the SQL is empty")))
    >>> with use("en"):
    ...     str(note)
    'its sql is refused: the SQL is empty'
    >>> with use("zh"):
    ...     str(note)
    '其 SQL 被拒绝：SQL 为空'
    """

    id: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, message: str, **values: object) -> Said:
        return cls(message, tuple(values.items()))

    @classmethod
    def join(cls, *parts: object) -> Said:
        """``parts`` one after the other, each worded (``str()``) when this is."""
        return cls("", (("parts", parts),))

    def __str__(self) -> str:
        if not self.id:
            parts = dict(self.values)["parts"]
            return "".join(str(p) for p in parts)  # type: ignore[attr-defined]
        values = {k: str(v) if isinstance(v, Said) else v for k, v in self.values}
        return _(self.id, **values)

    def to_json(self) -> dict[str, Any]:
        """The message as data, to keep in a record and word when it is read (in its reader's
        language): :meth:`from_json`. Values that are not text or numbers are kept as text.

        >>> empty = Said.of(N_("the SQL is empty"))
        >>> kept = Said.of(N_("its sql is refused: {reason}"), reason=empty)
        >>> with use("zh"):
        ...     str(Said.from_json(kept.to_json()))
        '其 SQL 被拒绝：SQL 为空'
        """
        return {"id": self.id, "values": {k: _kept(v) for k, v in self.values}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Said:
        """A message kept by :meth:`to_json`."""
        values = data.get("values") or {}
        return cls(str(data.get("id") or ""), tuple((k, _unkept(v)) for k, v in values.items()))


def _kept(value: object) -> Any:
    if isinstance(value, Said):
        return {"said": value.to_json()}
    if isinstance(value, list | tuple):
        return [_kept(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _unkept(value: Any) -> object:
    if isinstance(value, dict) and isinstance(value.get("said"), dict):
        return Said.from_json(value["said"])
    if isinstance(value, list):
        return tuple(_unkept(v) for v in value)
    return value


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet (module-level tables);
    translate it with :func:`_` where it is shown."""
    return message


def percent_change(fraction: float | None, signed: bool = True, digits: int = 1) -> str:
    """A relative change as a signed percentage with a real minus (templates' ``pct``)."""
    return percent(fraction, digits=digits, signed=signed)
