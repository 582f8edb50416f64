"""Your account (everyone): who you are, your password, and where you are signed in; sign out
everywhere else at once."""

import pandas as pd
import streamlit as st

from dashboard.ui import localize, reader, run_write, show_flash, signed_in_user
from db.domain import sessions, users

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
