"""Catalog text escaped for each platform's message format.

Examples
--------
>>> slack_mrkdwn("<!channel> & <https://x|y>")
'&lt;!channel&gt; &amp; &lt;https://x|y&gt;'
>>> chat_markdown("[点我](http://evil) **粗** # 标题 @all")
'［点我］（http://evil） ＊＊粗＊＊ ＃ 标题 ＠all'
"""

from __future__ import annotations

from api.routes.ask import plain

#: Markdown syntax a catalog text could use to add links, images, headings, emphasis, tables,
#: quotes, HTML or @-mentions to a bot's message: shown as the full-width look-alikes, which
#: no Markdown dialect (DingTalk's, WeCom's) interprets.
_MARKDOWN = str.maketrans(
    {
        "[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "_": "＿", "`": "｀",
        "#": "＃", "<": "＜", ">": "＞", "|": "｜", "!": "！", "@": "＠", "~": "～",
        "\\": "＼", "\n": " ", "\r": " ",
    }
)  # fmt: skip


def slack_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities (its documented escaping): ``<!channel>``,
    ``<@U…>`` and ``<url|text>`` lose their meaning."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_markdown(text: str) -> str:
    """Text for DingTalk / WeCom markdown: one line, no Markdown syntax of its own."""
    return plain(text).translate(_MARKDOWN)
