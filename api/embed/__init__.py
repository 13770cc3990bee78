"""BI hover cards: an embeddable metric card, ``/embed.js`` and oEmbed; who may frame them."""
