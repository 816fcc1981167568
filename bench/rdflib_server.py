"""rdflib-endpoint serving an N-Quads dump with rdflib's own engine, under uvicorn.

What a Python user would pick instead of exmech. Runs in its own venv (bench/.venv, see
README), because rdflib-endpoint pulls in FastAPI and uvicorn:

    bench/.venv/bin/python bench/rdflib_server.py --nquads dump.nq --port 8002
"""

from __future__ import annotations

import argparse

import uvicorn  # type: ignore[import-not-found]  # bench/.venv only
from rdflib import Dataset
from rdflib_endpoint import SparqlEndpoint  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser(description="rdflib-endpoint over an N-Quads file.")
    parser.add_argument("--nquads", required=True, help="N-Quads file to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    dataset = Dataset(default_union=True)
    dataset.parse(args.nquads, format="nquads")
    app = SparqlEndpoint(graph=dataset, path="/sparql", title="exmech bench (rdflib)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
