"""Every option of every command says what it does in ``--help`` (30 said nothing — ``search
--domain``, ``serve --port``, ``explain --depth`` … — found following the README)."""

from __future__ import annotations

import click

from cli import cli


def _options(cmd: click.Command, ctx: click.Context, path: list[str]) -> list[str]:
    if isinstance(cmd, click.Group):
        out: list[str] = []
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            out += _options(sub, click.Context(sub, parent=ctx), [*path, name])
        return out
    return [
        f"{' '.join(path)} {'/'.join(p.opts)}"
        for p in cmd.params
        if isinstance(p, click.Option) and not p.hidden and not p.help
    ]


def test_every_option_has_help() -> None:
    silent = _options(cli, click.Context(cli), [])
    assert silent == [], "options without help=:\n" + "\n".join(silent)
