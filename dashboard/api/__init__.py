"""The HTTP API (/api/v1): FastAPI over the same data-access module as the screens, for pipelines
and tools, authenticated by personal access tokens. Knows nothing of Streamlit: `prosync api`
serves it alone, `prosync serve` beside the dashboard."""
