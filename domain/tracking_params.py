"""Tracking parameters: the campaign and click ids that ride on a page's URL.

`/pricing?utm_source=x` and `/pricing?fbclid=abc` are the same page as `/pricing`;
keeping the ids would split one page into thousands of rows and keep per-click
identifiers that say more about a visitor than analytics needs.
"""

from urllib.parse import unquote_plus

# Name prefixes of whole families: Google Analytics campaigns, HubSpot ads, Matomo campaigns.
_PREFIXES = ("utm_", "hsa_", "mtm_")

_NAMES = frozenset(
    {
        # Our own: the embed script's ignore-yourself switch is not part of a page.
        "tiny_ignore",
        "ti",
        # Ad-click ids: Google, DoubleClick, Microsoft, Yandex, X, TikTok, LinkedIn, Meta.
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "gad_source",
        "gad_campaignid",
        "srsltid",
        "msclkid",
        "yclid",
        "ysclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "epik",
        "rb_clickid",
        "irclickid",
        "wickedid",
        # E-mail and marketing tools: Mailchimp, HubSpot, Marketo, Omeda, Vero, Klaviyo,
        # Kit, Drip, Adobe.
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "_kx",
        "ck_subscriber_id",
        "__s",
        "s_cid",
        # Share and cross-domain linkers: X, Google Analytics, Branch, Matomo/Piwik.
        "ref_src",
        "ref_url",
        "__twitter_impression",
        "_ga",
        "_gl",
        "_branch_match_id",
        "_branch_referrer",
        "pk_campaign",
        "pk_kwd",
        "pk_source",
        "pk_medium",
        "pk_content",
        "pk_cid",
    }
)

# A page with thousands of parameters is an attack or a bug; read no further than this.
MAX_PARAMS = 200


def is_tracking_param(name: str) -> bool:
    """True for a campaign or click-id parameter name, whatever its case or encoding."""
    bare = unquote_plus(name).strip().lower()
    return bare in _NAMES or bare.startswith(_PREFIXES)


def strip_tracking_params(path: str) -> str:
    """The path without tracking parameters or fragment: `/a?utm_source=x&id=3#top` → `/a?id=3`.

    Other parameters keep their order and exact text, so `?q=a+b` is not re-encoded.
    """
    bare = path.split("#", 1)[0]
    base, mark, query = bare.partition("?")
    if not mark:
        return base
    kept = [
        piece
        for piece in query.split("&")
        if piece and not is_tracking_param(piece.split("=", 1)[0])
    ]
    return f"{base}?{'&'.join(kept)}" if kept else base


def query_params(url_or_path: str) -> dict[str, str]:
    """The query parameters of a URL or path, decoded; the first value wins for a repeated name."""
    query = url_or_path.split("#", 1)[0].partition("?")[2]
    params: dict[str, str] = {}
    for piece in query.split("&")[:MAX_PARAMS]:
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if name and name not in params:
            params[name] = unquote_plus(raw_value)
    return params
