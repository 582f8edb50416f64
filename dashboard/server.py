"""The ASGI app `prosync serve` runs: Streamlit (dashboard/app.py), the sign-in and file routes, and
the HTTP API under /api/v1."""

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Mount

from dashboard import auth_routes, background, file_routes
from dashboard.api.app import PREFIX, api

app = st.App(
    "app.py",
    lifespan=background.jobs,
    routes=[*auth_routes.ROUTES, *file_routes.ROUTES, Mount(PREFIX, app=api)],
    middleware=[Middleware(auth_routes.SecurityHeaders), Middleware(auth_routes.SignInRedirect)],
)
