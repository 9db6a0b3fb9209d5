"""Distances on the Earth's surface, on the sphere osmnx uses so our lengths agree with its tools."""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_M = 6_371_009.0
METRES_PER_DEGREE_LAT = EARTH_RADIUS_M * math.pi / 180.0
METRES_PER_MILE = 1609.344


def metres_per_degree_lon(lat: float) -> float:
    return METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))


def haversine_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres, element-wise."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = np.radians(lon2 - lon1) / 2.0
    h = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlambda) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
