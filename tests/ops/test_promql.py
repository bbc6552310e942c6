"""The PromQL lexer finds exactly the series an expression reads."""

from __future__ import annotations

from tests.ops.promql import metric_names, selectors


def test_functions_aggregations_and_label_lists_are_not_metrics() -> None:
    """by/on/group_left lists, function and aggregation names, keywords and ranges are skipped."""
    expr = (
        'histogram_quantile(0.95, sum by (route, le) (rate(x_bucket{job=~"$job"}[$__rate_interval])))'
        " / on (job) group_left (instance) max without (pod) (y offset 5m) and bool z unless inf"
    )
    assert metric_names(expr) == {"x_bucket", "y", "z"}


def test_matchers_are_read_with_their_operator() -> None:
    """Matchers keep their operator and value, also inside strings with braces or commas."""
    (selector,) = selectors('a_total{job="fastapi-sentient", route="/x/{id}", code!~"2..|3.."}')
    assert selector.name == "a_total"
    assert selector.matcher("job") == ("=", "fastapi-sentient")
    assert selector.matcher("route") == ("=", "/x/{id}")
    assert selector.matcher("code") == ("!~", "2..|3..")
    assert selector.matcher("missing") is None


def test_recording_rule_names_and_name_matchers_count() -> None:
    """Colon names of recording rules and {__name__="…"} selectors are found."""
    assert metric_names('job:http:rate5m > 1 or {__name__="up", job="j"} == 0') == {
        "job:http:rate5m",
        "up",
    }


def test_label_replace_strings_are_not_metrics() -> None:
    """String arguments never count as metric names."""
    expr = 'label_replace(max by (pool) (db_pool_waiting), "kind", "db", "", "")'
    assert metric_names(expr) == {"db_pool_waiting"}
