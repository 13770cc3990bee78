"""The routers of the programme of seed 001 (issue 28): inventory, onboarding and quiz,
reports, the quarterly review — one module each, registered together."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import inventory, onboarding, reports, review

ROUTERS: tuple[APIRouter, ...] = (
    inventory.router,
    onboarding.router,
    reports.router,
    review.router,
)
