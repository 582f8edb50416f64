"""The ASGI app `prosync serve` runs: Streamlit (dashboard/app.py) plus the sign-in routes."""

import streamlit as st
from starlette.middleware import Middleware

from dashboard import auth_routes, file_routes

app = st.App(
    "app.py",
    routes=[*auth_routes.ROUTES, *file_routes.ROUTES],
    middleware=[Middleware(auth_routes.SecurityHeaders), Middleware(auth_routes.SignInRedirect)],
)
