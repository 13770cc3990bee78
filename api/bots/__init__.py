"""Two-way chat bots: ``/bots/{slack,dingtalk,feishu,wecom}`` (one module per platform behind
:class:`api.bots.base.ChatPlatform`)."""
