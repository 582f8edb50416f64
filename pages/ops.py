"""Ops: the database's health from the live catalogs — overview checks, tables, indexes, partitions
and queries. For users with the ops or admin role; every read is also checked in db.ops."""

import plotly.express as px
import streamlit as st

from dashboard.ui import csv_download, human_bytes, localize, reader, show_flash, signed_in_user, write
from db import ops, partitions
from db.errors import PermissionDenied, ProSyncError

st.title("Ops")
show_flash()
user = signed_in_user()
if not ({"ops", "admin"} & set(user.system_roles)):
    st.error("The ops screen is for users with the ops or admin role.")
    st.stop()

STATUS_ICON = {
    "ok": ":material/check_circle:",
    "warning": ":material/warning:",
    "critical": ":material/error:",
}


def _read(function, *args, **kwargs):
    """Run an ops read; a timeout or refusal shows its message instead of the tab."""
    try:
        with reader() as conn:
            return function(conn, *args, **kwargs)
    except (ops.OpsTimeout, PermissionDenied, ProSyncError) as error:
        st.warning(str(error), icon=":material/hourglass_empty:")
        return None


overview, tables_tab, indexes_tab, partitions_tab, queries_tab = st.tabs(
    ["Overview", "Tables", "Indexes", "Partitions", "Queries"]
)

with overview:
    checks = _read(ops.health_checks)
    if checks is not None:
        counts = {s: sum(c.status == s for c in checks) for s in ("ok", "warning", "critical")}
        a, b, c = st.columns(3)
        a.metric("Checks passing", counts["ok"])
        b.metric("Warnings", counts["warning"])
        c.metric("Critical", counts["critical"])
        for check in sorted(checks, key=lambda c: ("critical", "warning", "ok").index(c.status)):
            with st.container(border=True):
                left, right = st.columns([2, 3])
                left.markdown(f"{STATUS_ICON[check.status]} **{check.name}**")
                right.markdown(f"`{check.status}` · {check.value}")
                if check.detail and check.status != "ok":
                    st.caption(check.detail)

with tables_tab:
    tables = _read(ops.table_stats)
    if tables is not None:
        top = ops.rolled_up(tables)
        st.caption(
            f"{len(top)} tables ({int(top.partitions.gt(0).sum())} partitioned, their partitions summed in); "
            "row counts are the planner's estimates."
        )
        show = localize(top, "last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze")
        st.dataframe(
            show.drop(columns=["is_partitioned", "partition_of"]),
            hide_index=True,
            column_config={
                "total_bytes": st.column_config.NumberColumn("total", format="compact"),
                "table_bytes": st.column_config.NumberColumn("table", format="compact"),
                "index_bytes": st.column_config.NumberColumn("indexes", format="compact"),
                "toast_bytes": st.column_config.NumberColumn("toast", format="compact"),
            },
        )
        csv_download(top, "tables", key="tables-csv")
        parents = sorted(tables.partition_of.dropna().unique())
        if parents:
            parent = st.selectbox("Partitions of", parents)
            parts = tables[tables.partition_of == parent].drop(columns=["partition_of", "is_partitioned"])
            st.dataframe(parts, hide_index=True)
        space = top[top.total_bytes > 0]
        figure = px.treemap(
            space, path=[px.Constant("database"), "schema_name", "table_name"], values="total_bytes",
            title="Space by schema and table",
        )  # fmt: skip
        figure.update_traces(hovertemplate="%{label}: %{value:,} bytes")
        st.plotly_chart(figure, width="stretch")

with indexes_tab:
    indexes = _read(ops.index_stats)
    if indexes is not None:
        unused = indexes[indexes.unused]
        covered = indexes[indexes.covered_by.notna()]
        invalid = indexes[~indexes.is_valid]
        a, b, c, d = st.columns(4)
        a.metric("Indexes", len(indexes))
        b.metric("Unused", len(unused), help=human_bytes(float(unused.size_bytes.sum())) + " on disk")
        c.metric("Duplicate", len(covered))
        d.metric("Invalid", len(invalid))
        st.dataframe(
            indexes[
                ["schema_name", "table_name", "index_name", "named_in_seed", "size_bytes", "scans",
                 "tuples_read", "tuples_fetched", "unused", "covered_by", "is_valid", "definition"]
            ],
            hide_index=True,
            column_config={"size_bytes": st.column_config.NumberColumn("size", format="compact")},
        )  # fmt: skip
        csv_download(indexes, "indexes", key="indexes-csv")
        if len(unused):
            st.markdown("**Unused indexes** (never scanned since the statistics were last reset)")
            st.code("\n".join(unused.drop_statement), language="sql")
        if len(covered):
            st.markdown("**Duplicate indexes** (their columns lead another index on the same table)")
            st.dataframe(covered[["table_name", "index_name", "covered_by", "definition"]], hide_index=True)

with partitions_tab:
    status = _read(partitions.partition_status)
    if status is not None:
        st.dataframe(localize(status, "range_from", "range_to"), hide_index=True)
        csv_download(status, "partitions", key="partitions-csv")
        periods = status[~status.is_default].copy()
        if not periods.empty:
            periods["rows"] = periods.estimated_rows.fillna(0)
            figure = px.bar(
                periods, x="range_from", y="rows", color="parent_table", barmode="group",
                title="Rows per partition over time (planner estimates)",
            )  # fmt: skip
            st.plotly_chart(figure, width="stretch")
        if user.is_admin:
            if st.button("Run partition maintenance", icon=":material/build:"):
                steps = []
                if write(lambda conn: steps.extend(partitions.maintain(conn)), "Partition maintenance ran."):
                    for step in steps or ["nothing to do: every partition exists"]:
                        st.write(
                            step
                            if isinstance(step, str)
                            else f"`{step.action}` {step.partition_name} {step.detail}"
                        )
        else:
            st.caption("Admins can run partition maintenance here; ops run `prosync partitions maintain`.")

with queries_tab:
    order = st.segmented_control(
        "Order by", ["total_ms", "mean_ms", "calls", "rows"], default="total_ms", key="queries-order",
        format_func={"total_ms": "total time", "mean_ms": "mean time", "calls": "calls", "rows": "rows"}.get,
    )  # fmt: skip
    stats = _read(ops.top_queries, order_by=order or "total_ms")
    if stats is not None and not stats.available:
        st.info(stats.message, icon=":material/info:")
    elif stats is not None:
        st.dataframe(
            stats.frame,
            hide_index=True,
            column_config={
                "total_ms": st.column_config.NumberColumn("total ms", format="%.1f"),
                "mean_ms": st.column_config.NumberColumn("mean ms", format="%.2f"),
                "max_ms": st.column_config.NumberColumn("max ms", format="%.1f"),
                "query": st.column_config.TextColumn("query", width="large"),
            },
        )
        csv_download(stats.frame, "queries", key="queries-csv")
        if user.is_admin and st.button("Reset query statistics", icon=":material/restart_alt:"):
            if write(ops.reset_query_stats, "Query statistics were reset."):
                st.rerun()
