"""The ASGI app `prosync serve` runs: Streamlit (dashboard/app.py) plus the sign-in routes."""

import streamlit as st
from starlette.middleware import Middleware

from dashboard.auth_routes import ROUTES, SignInRedirect

app = st.App("app.py", routes=ROUTES, middleware=[Middleware(SignInRedirect)])
