"""Your account (everyone): who you are, your password, where you are signed in (sign out everywhere
else at once), and your access tokens for the HTTP API."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard.ui import localize, reader, run_write, show_flash, signed_in_user
from db.domain import access, sessions, tokens, users

me = signed_in_user()
current = st.session_state.get("session_id")
st.title("Your account")
show_flash()
st.markdown("**E-mail**")
st.text(me.login)
st.markdown("**Name**")
st.text(me.display_name)
st.caption("System roles: " + (", ".join(me.system_roles) or "none (project roles only)"))

st.subheader("Where you are signed in")
with reader() as conn:
    mine = sessions.list_sessions(conn, user_id=me.id, open_only=True)
frame = localize(
    pd.DataFrame(
        [
            {
                "This one": s.id == current,
                "Browser": s.user_agent,
                "Address": s.ip_address,
                "Signed in": s.created_at,
                "Last activity": s.last_active_at,
                "Expires": s.expires_at,
            }
            for s in mine
        ]  # fmt: skip
    ),
    "Signed in",
    "Last activity",
    "Expires",
)
st.dataframe(frame, hide_index=True)
others = sum(1 for s in mine if s.id != current)
if st.button(
    f"Sign out everywhere else ({others})",
    disabled=others == 0,
    help="Ends every session of yours but this one, at once: use it if a device was lost or shared.",
    key="sign-out-others",
):
    if run_write(
        lambda conn: sessions.sign_out_other_sessions(conn, keep_session_id=current),
        f"Signed out of {others} other session(s).",
    ):
        st.rerun()

st.subheader("Change your password")
with st.form("own-password", clear_on_submit=True):
    old = st.text_input("Current password", type="password", key="own-password-current")
    new = st.text_input(
        "New password",
        type="password",
        key="own-password-new",
        help=f"At least {users.MIN_PASSWORD_LENGTH} characters; not your e-mail address, not a common one",
    )
    again = st.text_input("New password again", type="password", key="own-password-again")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The two new passwords differ; nothing was changed.")
        elif run_write(
            lambda conn: users.change_own_password(
                conn, current_password=old, new_password=new, keep_session=current
            ),
            "Password changed; your other sessions were signed out.",
        ):
            st.rerun()

st.subheader("Access tokens for the API")
st.caption(
    "A token lets a pipeline or a script use ProSync's HTTP API (/api/v1) as you, narrowed to the "
    "projects and scopes you choose; it never carries your system roles. It is shown once, when made; "
    "keep it in a secret store. Changing your password ends all your tokens. Documentation: /api/v1/docs."
)
made = st.session_state.pop("new_api_token", None)
if made:
    st.warning("Copy the token now: it is not shown again.", icon=":material/key:")
    st.code(made, language=None)
with reader() as conn:
    mine_tokens = tokens.list_tokens(conn, include_ended=True)
    choices = dict(tokens.list_token_projects(conn))
now = datetime.now(UTC)
if mine_tokens:
    st.dataframe(
        localize(
            pd.DataFrame(
                [
                    {
                        "Name": t.name,
                        "Token": t.token_prefix + "…",
                        "Scopes": ", ".join(t.scopes),
                        "Projects": "all yours"
                        if t.project_ids is None
                        else ", ".join(choices.get(p, f"#{p}") for p in t.project_ids),
                        "Made": t.created_at,
                        "Expires": t.expires_at,
                        "Last used": t.last_used_at,
                        "From": t.last_used_ip,
                        "State": "revoked"
                        if t.revoked_at
                        else ("expired" if t.expires_at <= now else "live"),
                    }
                    for t in mine_tokens
                ]
            ),
            "Made",
            "Expires",
            "Last used",
        ),
        hide_index=True,
    )
live = {t.id: t for t in mine_tokens if t.revoked_at is None and t.expires_at > now}
if live:
    with st.form("revoke-token"):
        chosen = st.selectbox(
            "Token", list(live), format_func=lambda i: f"{live[i].name} ({live[i].token_prefix}…)"
        )
        if st.form_submit_button("Revoke at once"):
            if run_write(lambda conn: tokens.revoke_token(conn, token_id=chosen), "Token revoked."):
                st.rerun()
with st.form("new-token", clear_on_submit=True):
    name = st.text_input("Name", max_chars=100, placeholder="CI publisher", help="Where the token is used.")
    scopes = st.multiselect(
        "Scopes",
        list(access.SCOPES),
        default=["read"],
        help="read: projects, documents, the audit trail; upload: stage files; review: approve and reject.",
    )
    only = st.multiselect(
        "Projects", list(choices), format_func=lambda i: choices[i], help="None chosen: all your projects."
    )
    days = st.number_input("Expires after (days)", min_value=1, max_value=366, value=90, step=1)
    if st.form_submit_button("Make token", type="primary"):
        new_token = run_write(
            lambda conn: tokens.create_token(
                conn, name=name, scopes=scopes, project_ids=only or None, expires_days=int(days)
            ),
            lambda new: f"Token {new.token.name!r} made.",
        )
        if new_token:
            st.session_state["new_api_token"] = new_token.result.secret
            st.rerun()
