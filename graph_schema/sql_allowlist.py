"""What a metric's SQL may contain: the allow-lists of functions, and the statements, token
types, characters, types and system tables :func:`graph_schema.sql_safety.check_metric_sql`
refuses by name. Data only; the check itself is in :mod:`graph_schema.sql_safety`."""

from __future__ import annotations

import re

from sqlglot import TokenType, exp

#: typed sqlglot functions a metric may call: scalar, aggregate and window functions that
#: read only their arguments
ALLOWED_FUNCS: frozenset[type[exp.Func]] = frozenset(
    {
        # aggregates
        exp.Sum, exp.Count, exp.Avg, exp.Min, exp.Max, exp.CountIf, exp.AnyValue, exp.ArgMax,
        exp.ArgMin, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile,
        exp.ApproxQuantile, exp.ApproxDistinct, exp.Stddev, exp.StddevPop, exp.StddevSamp,
        exp.Variance, exp.VariancePop, exp.Mode, exp.First, exp.Last, exp.LogicalAnd,
        exp.LogicalOr, exp.Corr, exp.CovarPop, exp.CovarSamp, exp.RegrSlope,
        exp.RegrIntercept, exp.RegrR2, exp.RegrCount,
        # conditionals and casts
        exp.Coalesce, exp.Nullif, exp.If, exp.Case, exp.Cast, exp.TryCast, exp.Nvl2,
        exp.Greatest, exp.Least, exp.SafeDivide,
        # numbers
        exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Trunc, exp.Sign, exp.Sqrt, exp.Pow,
        exp.Ln, exp.Log, exp.Exp,
        # text
        exp.Left, exp.Right, exp.Substring, exp.Lower, exp.Upper, exp.Trim, exp.Length,
        exp.Concat, exp.ConcatWs, exp.Replace, exp.Pad, exp.StrPosition, exp.StartsWith,
        exp.EndsWith, exp.Contains, exp.RegexpLike, exp.RegexpILike, exp.RegexpFullMatch,
        exp.RegexpReplace, exp.RegexpExtract, exp.SplitPart, exp.Initcap,
        # dates and times
        exp.TimeToStr, exp.StrToTime, exp.StrToDate, exp.DateTrunc, exp.TimestampTrunc,
        exp.DatetimeTrunc, exp.TimeTrunc, exp.Extract, exp.Year, exp.Month, exp.Day,
        exp.Quarter, exp.Week, exp.WeekOfYear, exp.DayOfWeek, exp.DayOfWeekIso,
        exp.DayOfMonth, exp.DayOfYear, exp.Hour, exp.Minute, exp.Second, exp.DateDiff,
        exp.DateAdd, exp.DateSub, exp.TimestampDiff, exp.TimestampAdd, exp.TimestampSub,
        exp.DatetimeDiff, exp.DatetimeAdd, exp.DatetimeSub, exp.TsOrDsAdd, exp.TsOrDsDiff,
        exp.TsOrDsToDate, exp.TsOrDsToTimestamp, exp.DateFromParts, exp.LastDay,
        exp.CurrentDate, exp.CurrentTimestamp, exp.Date, exp.Timestamp, exp.UnixToTime,
        exp.TimeStrToTime, exp.DateStrToDate, exp.DateToDateStr, exp.TimeToUnix,
        exp.MonthsBetween, exp.AddMonths, exp.MakeInterval,
        # windows
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue,
        exp.LastValue, exp.NthValue, exp.Ntile, exp.PercentRank, exp.CumeDist,
        # operators sqlglot models as functions
        exp.And, exp.Or, exp.Xor, exp.Collate,
    }
)  # fmt: skip

#: functions sqlglot does not type (``exp.Anonymous``), by lower-case name — the same kind
#: as above, spelled as the engines spell them
_NAMES = """
    sum count avg min max count_if countif any_value arg_max arg_min argmax argmin median
    quantile quantile_cont quantile_disc percentile_cont percentile_disc approx_count_distinct
    stddev stddev_pop stddev_samp variance var_pop var_samp mode first last bool_and bool_or
    corr covar_pop covar_samp regr_slope regr_intercept regr_r2 regr_count fsum sumkahan
    favg product kahan_sum
    coalesce ifnull nullif if iif nvl nvl2 greatest least try_cast cast
    abs round floor ceil ceiling trunc sign sqrt cbrt pow power ln log log2 log10 exp mod
    round_even even div
    left right substr substring lower upper lcase ucase trim ltrim rtrim length char_length
    character_length len concat concat_ws replace lpad rpad strpos position instr
    starts_with ends_with contains prefix suffix regexp_matches regexp_replace
    regexp_extract split_part initcap format printf
    strftime strptime try_strptime date_trunc datetrunc date_part datepart extract year
    month day quarter week weekofyear dayofweek dayofmonth dayofyear isodow yearweek hour
    minute second date_diff datediff date_sub date_add datesub dateadd make_date
    make_timestamp last_day epoch epoch_ms to_timestamp current_date today date
    monthname dayname age to_date to_char date_format from_unixtime unix_timestamp
    months_between add_months
    row_number rank dense_rank lag lead first_value last_value nth_value ntile
    percent_rank cume_dist
"""
ALLOWED_NAMES: frozenset[str] = frozenset(_NAMES.split())

#: statement and clause nodes that write, configure, reach outside, or are not a query
REFUSED_NODES: tuple[tuple[type[exp.Expression], str], ...] = tuple(
    (cls, label)
    for name, label in (
        ("Command", "a command"),
        ("Copy", "COPY"),
        ("Attach", "ATTACH"),
        ("Detach", "DETACH"),
        ("Install", "INSTALL"),
        ("Set", "SET"),
        ("Pragma", "PRAGMA"),
        ("Use", "USE"),
        ("Insert", "INSERT"),
        ("Update", "UPDATE"),
        ("Delete", "DELETE"),
        ("Merge", "MERGE"),
        ("Create", "CREATE"),
        ("Drop", "DROP"),
        ("Alter", "ALTER"),
        ("TruncateTable", "TRUNCATE"),
        ("Transaction", "a transaction"),
        ("Commit", "COMMIT"),
        ("Rollback", "ROLLBACK"),
        ("Describe", "DESCRIBE"),
        ("Show", "SHOW"),
        ("Summarize", "SUMMARIZE"),
        ("Export", "EXPORT"),
        ("LoadData", "LOAD DATA"),
        ("Cache", "CACHE"),
        ("Uncache", "UNCACHE"),
        ("Refresh", "REFRESH"),
        ("Grant", "GRANT"),
        ("Revoke", "REVOKE"),
        ("Analyze", "ANALYZE"),
        ("Into", "SELECT … INTO"),
        ("Lock", "a locking clause (FOR UPDATE)"),
        ("SessionParameter", "a session variable (@@…)"),
        ("Lambda", "a lambda"),
        ("Lateral", "LATERAL"),
        ("QueryTransform", "TRANSFORM … USING (it runs a program)"),
    )
    if isinstance(cls := getattr(exp, name, None), type)
)

REFUSED_TYPES = tuple(cls for cls, _ in REFUSED_NODES)

#: token types whose text may hold any printable character
TEXT_TOKENS = frozenset(
    t
    for t in (
        getattr(TokenType, name, None)
        for name in (
            "STRING",
            "NATIONAL_STRING",
            "RAW_STRING",
            "HEREDOC_STRING",
            "UNICODE_STRING",
            "BYTE_STRING",
            "BIT_STRING",
            "HEX_STRING",
            "IDENTIFIER",
        )
    )
    if t is not None
)
#: invisible, control and bidirectional-override characters: refused anywhere
INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})

#: PostgreSQL's object-identifier types (``regclass``, ``regrole``, ``regnamespace``, … and
#: their arrays ``_regclass``): a cast to one looks a name or an OID up in the system catalogs
#: (``(n)::regrole::text`` names every role, ``'t'::regclass`` says whether any table exists)
CATALOG_TYPE = re.compile(r"_?reg[a-z]*", re.IGNORECASE)

#: SQL's functions written without parentheses that name the session (PostgreSQL answers
#: ``SELECT user`` with the database role); sqlglot reads them as column names
SESSION_WORDS = frozenset({"user", "current_role", "current_schema", "system_user"})

#: the engines' own catalogs, by schema and by name prefix (PostgreSQL's ``pg_settings``,
#: ``pg_roles``; DuckDB's ``duckdb_settings``, ``sqlite_master``, ``pragma_*``): refused even
#: when declared, since whoever writes sources.yaml may be hostile too
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "mysql", "performance_schema", "sys", "global_temp"}
)
SYSTEM_PREFIXES = ("pg_", "duckdb_", "sqlite_", "pragma_")
