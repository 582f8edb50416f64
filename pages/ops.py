"""Ops: the database's health from the live catalogs, in tabs: overview checks, tables, indexes,
partitions, queries, plans of the screens' queries, activity, settings and maintenance, schema.
For users with the ops or admin role; every read is also checked in db.ops.

Only the open tab runs (the tabs are bound to the URL's ?tab=), so a slow catalog never delays
the others."""

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.er_diagram import to_dot, to_mermaid
from dashboard.ui import (
    chart_text,
    csv_download,
    human_bytes,
    localize,
    md,
    reader,
    run_write,
    show_flash,
    signed_in_user,
)
from db.core.errors import ProSyncError
from db.domain import partitions
from db.ops import activity, explain, health, schema, stats, tuning

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
    except ProSyncError as error:  # a timeout (OpsTimeout) or a refusal (PermissionDenied)
        st.warning(md(error), icon=":material/hourglass_empty:")
        return None


def overview() -> None:
    checks = _read(health.health_checks)
    if checks is None:
        return
    counts = {s: sum(c.status == s for c in checks) for s in ("ok", "warning", "critical")}
    a, b, c = st.columns(3)
    a.metric("Checks passing", counts["ok"])
    b.metric("Warnings", counts["warning"])
    c.metric("Critical", counts["critical"])
    for check in sorted(checks, key=lambda c: ("critical", "warning", "ok").index(c.status)):
        with st.container(border=True):
            left, right = st.columns([2, 3])
            left.markdown(f"{STATUS_ICON[check.status]} **{md(check.name)}**")
            right.markdown(f"`{check.status}` · {md(check.value)}")
            if check.detail and check.status != "ok":
                st.caption(md(check.detail))  # a long-running query's text, say


def tables_tab() -> None:
    tables = _read(stats.table_stats)
    if tables is None:
        return
    top = stats.rolled_up(tables)
    st.caption(
        f"{len(top)} tables ({int(top.partitions.gt(0).sum())} partitioned, their partitions summed in). "
        "estimated_rows is the planner's figure (0 until the table is first analyzed); live_rows and "
        "dead_rows come from the statistics collector."
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


def indexes_tab() -> None:
    indexes = _read(stats.index_stats)
    if indexes is None:
        return
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


def partitions_tab() -> None:
    status = _read(partitions.partition_status)
    if status is None:
        return
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
    if not user.is_admin:
        st.caption("Admins can run partition maintenance here; ops run `prosync partitions maintain`.")
        return
    if st.button("Run partition maintenance", icon=":material/build:"):
        maintained = run_write(partitions.maintain, "Partition maintenance ran.")
        if maintained:
            for step in maintained.result or ["nothing to do: every partition exists"]:
                st.write(
                    md(step)
                    if isinstance(step, str)
                    else f"`{step.action}` {md(step.partition_name)} {md(step.detail)}"
                )


def queries_tab() -> None:
    order = st.segmented_control(
        "Order by", ["total_ms", "mean_ms", "calls", "rows"], default="total_ms", key="queries-order",
        format_func={"total_ms": "total time", "mean_ms": "mean time", "calls": "calls", "rows": "rows"}.get,
    )  # fmt: skip
    queries = _read(stats.top_queries, order_by=order or "total_ms")
    if queries is None:
        return
    if not queries.available:
        st.info(queries.message, icon=":material/info:")
        return
    st.dataframe(
        queries.frame,
        hide_index=True,
        column_config={
            "total_ms": st.column_config.NumberColumn("total ms", format="%.1f"),
            "mean_ms": st.column_config.NumberColumn("mean ms", format="%.2f"),
            "max_ms": st.column_config.NumberColumn("max ms", format="%.1f"),
            "query": st.column_config.TextColumn("query", width="large"),
        },
    )
    csv_download(queries.frame, "queries", key="queries-csv")
    if user.is_admin and st.button("Reset query statistics", icon=":material/restart_alt:"):
        if run_write(stats.reset_query_stats, "Query statistics were reset."):
            st.rerun()


def _partitions_read(statement: explain.Statement) -> str:
    return "; ".join(f"{parent}: {read} of {total}" for parent, (read, total) in statement.partitions.items())


def explain_tab() -> None:
    sample = _read(explain.explain_sample)
    if sample is None:
        st.info(
            "There is no project with members yet: nothing for the screens to query.", icon=":material/info:"
        )
        return
    # Running the screens as a member looks past project membership: the project's audit trail
    # says so, once per browser session and sample, before its name or its member is shown.
    recorded = st.session_state.setdefault("explain_recorded", set())
    if (sample.project_id, sample.user_id) not in recorded:
        if not run_write(lambda conn: explain.record_explain(conn, sample), changes_reads=False):
            return
        recorded.add((sample.project_id, sample.user_id))
    st.caption(
        f"Each screen's query as ProSync sends it, run with EXPLAIN (ANALYZE, BUFFERS) as "
        f"**{md(sample.login)}** (the top-ranked member of **{md(sample.project_name)}**, the project with "
        f"the most documents: {sample.documents:,}); the name search looks for “{md(sample.search)}”. "
        "Everything runs in a read-only transaction that is rolled back. Free-form SQL is not offered here."
    )
    explained = _read(explain.explain_screens, sample)
    if explained is None:
        return
    summary = [
        {
            "screen": e.screen,
            "query": e.query,
            "statements": len(e.statements),
            "total_ms": sum(s.execution_ms + s.planning_ms for s in e.statements),
            "main_ms": e.main.execution_ms,
            "rows": e.main.rows,
            "indexes": ", ".join(e.main.indexes),
            "partitions_read": _partitions_read(e.main),
            "seq_scans": ", ".join(e.main.seq_scans),
        }
        for e in explained
    ]
    frame = pd.DataFrame(summary)
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "total_ms": st.column_config.NumberColumn("total ms", format="%.2f",
                                                      help="every statement, planning included"),
            "main_ms": st.column_config.NumberColumn("main ms", format="%.2f",
                                                     help="execution of the screen's main statement"),
        },
    )  # fmt: skip
    csv_download(frame, "explain", key="explain-csv")
    for e in explained:
        with st.expander(f"{e.screen} · {e.query} · {e.main.execution_ms:.2f} ms"):
            for number, statement in enumerate(e.statements, 1):
                main = " (main)" if statement is e.main else ""
                st.markdown(
                    f"**Statement {number}{main}** · execution {statement.execution_ms:.3f} ms, planning "
                    f"{statement.planning_ms:.3f} ms, {statement.rows:,} rows, buffers: "
                    f"{statement.shared_hit:,} hit, {statement.shared_read:,} read"
                    + (f" · partitions read: {_partitions_read(statement)}" if statement.partitions else "")
                )
                st.code(statement.sql, language="sql", wrap_lines=True)
                st.code(statement.plan, language="text")


def activity_tab() -> None:
    connections = _read(activity.activity)
    if connections is None:
        return
    a, b, c, d = st.columns(4)
    a.metric("Connections to this database", len(connections))
    b.metric("Active", int((connections.state == "active").sum()))
    c.metric(
        "Idle in transaction", int(connections.state.fillna("").str.startswith("idle in transaction").sum())
    )
    d.metric("Waiting on a lock", int((connections.wait_event_type == "Lock").sum()))
    st.dataframe(
        localize(connections, "query_start", "xact_start", "backend_start"),
        hide_index=True,
        column_config={
            "query_seconds": st.column_config.NumberColumn("query s", format="%.1f"),
            "transaction_seconds": st.column_config.NumberColumn("transaction s", format="%.1f"),
            "in_state_seconds": st.column_config.NumberColumn("in state s", format="%.1f"),
            "query": st.column_config.TextColumn("query", width="large"),
        },
    )
    csv_download(connections, "activity", key="activity-csv")

    st.subheader("ProSync sessions")
    summary = _read(activity.session_summary)
    if summary is None:
        return
    a, b, c = st.columns(3)
    a.metric("Active sessions", summary.counts["active"])
    b.metric("Expired", summary.counts["expired"])
    c.metric("Revoked", summary.counts["revoked"])
    if not summary.by_agent.empty:
        figure = px.bar(
            summary.by_agent.assign(agent=summary.by_agent.agent.map(chart_text)),
            x="sessions", y="agent", color="state", orientation="h",
            title="Sessions by browser and state", height=140 + 40 * summary.by_agent.agent.nunique(),
        )  # fmt: skip
        st.plotly_chart(figure, width="stretch")
    st.dataframe(localize(summary.by_agent, "last_active_at"), hide_index=True)
    csv_download(summary.by_agent, "sessions-by-agent", key="agents-csv")
    st.markdown("**Active sessions** (signed in, not expired, not revoked)")
    st.dataframe(
        localize(summary.active, "created_at", "last_active_at", "expires_at").drop(columns=["user_agent"]),
        hide_index=True,
    )
    csv_download(summary.active, "active-sessions", key="sessions-csv")


def settings_tab() -> None:
    settings = _read(tuning.server_settings)
    if settings is None:
        return
    changed = int(settings.changed.sum())
    restart = settings[settings.pending_restart]
    st.caption(f"{len(settings)} settings that matter for this model; {changed} changed from the default.")
    if len(restart):
        st.warning("Waiting for a restart: " + md(", ".join(restart.name)), icon=":material/restart_alt:")
    st.dataframe(
        settings,
        hide_index=True,
        column_config={"short_desc": st.column_config.TextColumn("what", width="large")},
    )
    csv_download(settings, "settings", key="settings-csv")

    st.subheader("Background writer and checkpointer")
    writer = _read(tuning.writer_stats)
    if writer is not None:
        st.caption(f"From {writer.source}.")
        figures = writer.figures
        a, b, c, d = st.columns(4)
        a.metric("Checkpoints timed", f"{figures['checkpoints_timed']:,}")
        b.metric("Checkpoints requested", f"{figures['checkpoints_requested']:,}")
        c.metric("Buffers by checkpoints", f"{figures['buffers_written_by_checkpoints']:,}")
        d.metric("Buffers by the bgwriter", f"{figures['buffers_written_by_bgwriter']:,}")
        if writer.advice:
            st.warning(writer.advice, icon=":material/warning:")
        table = pd.DataFrame({"figure": list(figures), "value": [str(v) for v in figures.values()]})
        st.dataframe(table, hide_index=True)
        csv_download(table, "writer", key="writer-csv")

    st.subheader("Maintenance running now")
    progress = _read(tuning.maintenance_progress)
    if progress is not None:
        if progress.empty:
            st.caption("No VACUUM, ANALYZE, CREATE INDEX or CLUSTER is running in this database.")
        else:
            st.dataframe(progress, hide_index=True,
                         column_config={"percent_done": st.column_config.ProgressColumn(
                             "done", format="%.0f%%", min_value=0, max_value=100)})  # fmt: skip
        csv_download(progress, "maintenance", key="maintenance-csv")

    st.subheader("Autovacuum queue")
    queue = _read(tuning.vacuum_queue)
    if queue is not None:
        due = queue[queue.vacuum_due | queue.analyze_due]
        st.caption(
            f"{len(due)} of {len(queue)} tables are past a threshold and wait for autovacuum. The thresholds "
            "are the table's own autovacuum reloptions, else the server's settings."
        )
        st.dataframe(localize(queue, "last_autovacuum", "last_autoanalyze"), hide_index=True)
        csv_download(queue, "vacuum-queue", key="vacuum-csv")


def schema_tab() -> None:
    state = _read(schema.schema_state)
    if state is None:
        return
    a, b = st.columns(2)
    a.metric("Database at revision", state.current or "none")
    b.metric("This ProSync's head", state.head)
    if state.current != state.head:
        st.warning(
            "The database is not at this ProSync's head: run `prosync db upgrade`.", icon=":material/warning:"
        )
    st.dataframe(localize(state.history, "applied_at"), hide_index=True)
    csv_download(state.history, "schema-versions", key="versions-csv")

    st.subheader("Schema changes")
    changes = _read(schema.schema_changes)
    if changes is not None:
        if not changes.recorded:
            st.warning(
                "Schema changes are not being recorded: this server refused event triggers to the role "
                "that ran `prosync db upgrade`. A superuser can create them: see "
                "migrations/sql/0012_upgrade.sql.",
                icon=":material/warning:",
            )
        st.caption(
            "Every CREATE, ALTER and DROP in this database, recorded in the audit log by event triggers "
            "(who: the signed-in user for a change made through ProSync, else the database role)."
        )
        statement = st.column_config.TextColumn("statement", width="large")
        st.dataframe(
            localize(changes.events, "changed_at"), hide_index=True, column_config={"statement": statement}
        )
        csv_download(changes.events, "schema-changes", key="ddl-csv")

    st.subheader("Roles and memberships")
    roles = _read(schema.database_roles)
    members = _read(schema.role_memberships)
    if roles is not None and members is not None:
        st.dataframe(roles, hide_index=True)
        csv_download(roles, "roles", key="roles-csv")
        st.dataframe(members, hide_index=True)
        csv_download(members, "role-memberships", key="memberships-csv")

    st.subheader("Constraints")
    found = _read(schema.constraints)
    if found is not None:
        names = sorted(set(found.schema_name + "." + found.table_name))
        chosen = st.selectbox("Table", ["every table", *names], key="constraints-table")
        qualified = found.schema_name + "." + found.table_name
        shown = found if chosen == "every table" else found[qualified == chosen]
        definition = st.column_config.TextColumn("definition", width="large")
        st.dataframe(shown, hide_index=True, column_config={"definition": definition})
        csv_download(found, "constraints", key="constraints-csv")

    st.subheader("Views")
    defined = _read(schema.views)
    if defined is not None:
        st.dataframe(defined.drop(columns=["definition"]), hide_index=True)
        csv_download(defined, "views", key="views-csv")
        for view in defined.itertuples():
            with st.expander(md(f"{view.schema_name}.{view.view_name}")):
                st.code(view.definition, language="sql")

    st.subheader("Entity relationships")
    graph = _read(schema.schema_graph)
    if graph is not None:
        schemas = sorted({t.split(".")[0] for t in graph.tables})
        left, middle, right = st.columns([3, 1, 1])
        ours = [s for s in schemas if s != "public"]  # public holds only Alembic's bookkeeping
        picked = left.multiselect("Schemas", schemas, default=ours, key="er-schemas")
        every_column = middle.toggle("Every column", key="er-columns", help="Off: keys only")
        who = right.toggle(
            "Who-did-it links",
            key="er-who",
            help="created_by, updated_by, granted_by… → users (on most tables)",
        )
        st.caption(
            f"{len(graph.tables)} tables and {len(graph.relations)} foreign keys from the live catalog; "
            "arrows run from the referring column to the key it references. PK: primary key, FK: foreign key."
        )
        dot = to_dot(graph, schemas=picked, all_columns=every_column, bookkeeping=who)
        st.graphviz_chart(dot, width="stretch")
        a, b = st.columns(2)
        icon = ":material/download:"
        a.download_button("Download DOT", dot, file_name="prosync-schema.dot", key="er-dot", icon=icon)
        mermaid = to_mermaid(graph)
        b.download_button(
            "Download Mermaid", mermaid, file_name="prosync-schema.mmd", key="er-mermaid", icon=icon
        )


TABS = {
    "Overview": overview,
    "Tables": tables_tab,
    "Indexes": indexes_tab,
    "Partitions": partitions_tab,
    "Queries": queries_tab,
    "Explain": explain_tab,
    "Activity": activity_tab,
    "Settings and maintenance": settings_tab,
    "Schema": schema_tab,
}
for container, draw in zip(st.tabs(list(TABS), key="tab", bind="query-params"), TABS.values(), strict=True):
    if container.open:
        with container:
            draw()
