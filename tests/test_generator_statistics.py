"""Statistical behaviour of the order-flow generator against SPEC.md section 1 (timing, demand, baskets,
brand momentum), with fixed seeds and tolerances derived from the sample sizes.

Tolerances are a few standard errors (Z_TOL) or a 99.9% chi-square / Kolmogorov-Smirnov quantile;
the seeds are fixed, so each test is deterministic, and a wrong model (a swapped multiplier, a missing
floor, a wrong exponent) lands many standard errors away.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from casper.generator.baskets import DECLINING, FLAT, IMPROVING, draw_baskets
from casper.generator.demand import base_orders, order_offsets_us
from casper.generator.lifecycle import draw_lifecycle
from casper.generator.simulation import Kitchen, to_us
from tests.generator_fixtures import (
    US_PER_MINUTE,
    Base,
    base,
    created_minutes,
    variant,
)

Z_TOL = 5.0  # standard errors
P_CRIT = 0.999  # quantile for chi-square and KS tests
MONDAY = dt.date(2025, 1, 6)
SPEC_DOW = [1.00, 1.05, 1.08, 1.10, 1.25, 1.35, 1.15]  # Mon..Sun, SPEC.md section 1
FLOOR_MINUTES = 0.1


@pytest.fixture(scope="session")
def sf(tmp_path_factory) -> Base:
    return base(tmp_path_factory.getbasetemp() / "generator-roads")


def chi2_crit(dof: int) -> float:
    return float(stats.chi2.ppf(P_CRIT, dof))


def assert_within(observed: float, expected: float, se: float, what: str) -> None:
    assert abs(observed - expected) <= Z_TOL * se, (
        f"{what}: observed {observed:.5g}, expected {expected:.5g}, "
        f"off by {abs(observed - expected) / se:.1f} standard errors"
    )


def chi_square(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(((counts - expected) ** 2 / expected).sum())


# --------------------------------------------------------------------------- service times


def floored_normal_moments(mean: float, sd: float, floor: float = FLOOR_MINUTES):
    """Mean and standard deviation of max(floor, N(mean, sd)) (a censored normal)."""
    if sd == 0:
        value = max(floor, mean)
        return value, 0.0
    a = (floor - mean) / sd
    below, density = stats.norm.cdf(a), stats.norm.pdf(a)
    m1 = floor * below + mean * (1 - below) + sd * density
    m2 = floor**2 * below + (mean**2 + sd**2) * (1 - below) + sd * (mean + floor) * density
    return m1, math.sqrt(m2 - m1**2)


SVC = {"cs": [10.0, 3.0], "sf": [0.5, 1.0], "fr": [2.0, 0.5], "rp": [20.0, 6.0]}
GAPS = {
    "cs": ("created", "started"),
    "sf": ("started", "finished"),
    "fr": ("finished", "ready"),
    "rp": ("ready", "picked_up"),
}


def test_service_time_gaps_follow_floored_normals(sf: Base) -> None:
    n = 200_000
    kitchen = variant(sf.kitchen, svc=SVC)
    created = np.full(n, to_us(dt.datetime(2025, 1, 6, 12)), dtype=np.int64)
    life = draw_lifecycle(np.random.default_rng(20250106), kitchen.config, created, np.full(n, 3e3))
    for step, (start, end) in GAPS.items():
        gap_us = getattr(life, end) - getattr(life, start)
        gap = gap_us / US_PER_MINUTE
        mean, sd = floored_normal_moments(*SVC[step])
        assert_within(gap.mean(), mean, gap.std() / math.sqrt(n), f"svc.{step} mean")
        # standard error of a sample standard deviation, from the sample's fourth moment
        m4 = ((gap - gap.mean()) ** 4).mean()
        se_sd = math.sqrt(max(m4 - gap.var() ** 2, 0.0) / n) / (2 * gap.std())
        assert_within(gap.std(), sd, se_sd, f"svc.{step} sd")
        # the floor: never shorter than 0.1 minute, and exactly 0.1 as often as N(m, s) < 0.1
        assert gap_us.min() >= round(FLOOR_MINUTES * US_PER_MINUTE)
        at_floor = (gap_us == round(FLOOR_MINUTES * US_PER_MINUTE)).mean()
        p_floor = stats.norm.cdf((FLOOR_MINUTES - SVC[step][0]) / SVC[step][1])
        se = math.sqrt(max(p_floor * (1 - p_floor), 1e-6) / n)
        assert_within(at_floor, p_floor, se, f"svc.{step} share at the floor")
    assert at_floor < 0.01  # rp = [20, 6]: its floor is rarely hit, unlike sf's
    sf_floor = (life.finished - life.started == round(FLOOR_MINUTES * US_PER_MINUTE)).mean()
    assert sf_floor > 0.3  # sf = [0.5, 1]: P(N < 0.1) = 0.34


@pytest.mark.parametrize(
    ("alpha", "beta", "after_ready_pct"), [(3.0, 3.0, 0.5), (2.0, 5.0, 0.3), (0.5, 0.5, 0.85)]
)
def test_driver_arrival_window_and_beta_position(
    sf: Base, alpha: float, beta: float, after_ready_pct: float
) -> None:
    n = 100_000
    kitchen = variant(
        sf.kitchen,
        svc=SVC,
        driver_arrival={"alpha": alpha, "beta": beta, "after_ready_pct": after_ready_pct},
    )
    created = np.zeros(n, dtype=np.int64)
    life = draw_lifecycle(np.random.default_rng(7), kitchen.config, created, np.full(n, 3e3))
    arrived = life.driver_arrived
    assert (arrived >= life.created).all() and (arrived < life.picked_up).all()
    after = arrived >= life.ready
    se = math.sqrt(after_ready_pct * (1 - after_ready_pct) / n)
    assert_within(after.mean(), after_ready_pct, se, "share of arrivals after ready")

    beta_mean = alpha / (alpha + beta)
    beta_sd = math.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1)))
    windows = {
        "before ready": (~after, life.created, life.ready),
        "after ready": (after, life.ready, life.picked_up),
    }
    for name, (mask, start, end) in windows.items():
        fraction = (arrived[mask] - start[mask]) / (end[mask] - start[mask])
        m = fraction.size
        assert ((fraction >= 0) & (fraction < 1)).all()
        assert_within(fraction.mean(), beta_mean, beta_sd / math.sqrt(m), f"{name} Beta mean")
        assert_within(fraction.std(), beta_sd, beta_sd / math.sqrt(2 * m), f"{name} Beta sd")
        ks = stats.kstest(fraction, stats.beta(alpha, beta).cdf).statistic
        assert ks < stats.kstwo.ppf(P_CRIT, m), f"{name}: KS distance {ks:.4f} from Beta"


# --------------------------------------------------------------------------- demand


def daily_counts(config, day: dt.date, day_index: int, seeds: range) -> np.ndarray:
    return np.array(
        [order_offsets_us(np.random.default_rng(s), config, day, day_index).size for s in seeds]
    )


def test_day_of_week_multipliers(sf: Base) -> None:
    mu = 800.0
    config = variant(sf.kitchen, orders_day_1=mu, orders_last=mu, noise_pct=0).config
    seeds = range(1000)
    means, ses = [], []
    for weekday in range(7):
        counts = daily_counts(config, MONDAY + dt.timedelta(days=weekday), 40, seeds)
        means.append(counts.mean())
        ses.append(counts.std() / math.sqrt(counts.size))
    for weekday in range(7):
        ratio = means[weekday] / means[0]
        se = ratio * math.hypot(ses[weekday] / means[weekday], ses[0] / means[0])
        assert_within(ratio, SPEC_DOW[weekday], se or 1e-9, f"weekday {weekday} / Monday")
        assert_within(means[weekday], mu * SPEC_DOW[weekday], ses[weekday], f"weekday {weekday}")


def test_daily_noise_is_uniform_within_noise_pct(sf: Base) -> None:
    """With many orders a day Poisson noise is small, so count / expected shows the uniform noise."""
    mu, noise_pct = 100_000.0, 10.0
    config = variant(sf.kitchen, orders_day_1=mu, orders_last=mu, noise_pct=noise_pct).config
    n = 600
    ratio = daily_counts(config, MONDAY, 40, range(n)) / mu
    jitter = 1 / math.sqrt(mu * 0.9)  # Poisson relative sd, at most ~0.33%
    assert ratio.min() >= 0.9 - 5 * jitter and ratio.max() <= 1.1 + 5 * jitter
    # 600 uniform draws come within 0.2 * 5 / 600 of each bound (failure odds e^-5)
    assert ratio.min() < 0.9 + 0.2 * 5 / n + 5 * jitter
    assert ratio.max() > 1.1 - 0.2 * 5 / n - 5 * jitter
    sd = 0.2 / math.sqrt(12)
    assert_within(ratio.mean(), 1.0, math.hypot(sd, jitter) / math.sqrt(n), "mean noise")
    # sd of a sample sd for a uniform (kurtosis 1.8): sd * sqrt(0.8 / n) / 2
    assert_within(ratio.std(), math.hypot(sd, jitter), sd * math.sqrt(0.8 / n) / 2, "noise sd")
    ks = stats.kstest(ratio, stats.uniform(0.9, 0.2).cdf).statistic
    # the Poisson jitter adds at most ~5 * jitter * density 5 to the KS distance
    assert ks < stats.kstwo.ppf(P_CRIT, n) + 25 * jitter


def spec_minute_weights(late_night_peak: float | None = None) -> np.ndarray:
    """SPEC: weight 1, plus sin^2 bumps 11:00-13:30 (peak 3x) and 17:00-20:00 (3.5x)."""
    minutes = np.arange(1440)

    def bump(start: int, length: int, peak: float) -> np.ndarray:
        offset = (minutes - start) % 1440
        return np.where(offset < length, (peak - 1) * np.sin(np.pi * offset / length) ** 2, 0.0)

    w = 1.0 + bump(11 * 60, 150, 3.0) + bump(17 * 60, 180, 3.5)
    if late_night_peak is not None:
        w += bump(21 * 60, 240, late_night_peak)
    return w


def minute_histogram(config, seeds: range) -> np.ndarray:
    hist = np.zeros(1440)
    for s in seeds:
        offsets = order_offsets_us(np.random.default_rng(s), config, MONDAY, 40)
        hist += np.bincount(offsets // US_PER_MINUTE, minlength=1440)
    return hist


def window_ratio(hist: np.ndarray, baseline: float, start: int, end: int) -> tuple[float, float]:
    """Mean count per minute in [start, end) relative to the baseline, and its Poisson SE."""
    minutes = np.arange(start, end) % 1440
    total = hist[minutes].sum()
    ratio = total / minutes.size / baseline
    return ratio, ratio / math.sqrt(total)


BASELINE_MINUTES = np.r_[0 : 11 * 60, 13 * 60 + 30 : 17 * 60, 20 * 60 : 1440]


@pytest.mark.parametrize("late_night_peak", [None, 2.5])
def test_lunch_and_dinner_peaks(sf: Base, late_night_peak: float | None) -> None:
    bump = None if late_night_peak is None else {"peak": late_night_peak}
    config = variant(
        sf.kitchen, orders_day_1=200_000, orders_last=200_000, noise_pct=0, late_night_bump=bump
    ).config
    hist = minute_histogram(config, range(6))
    weights = spec_minute_weights(late_night_peak)

    # the whole day's shape: per-minute counts against the SPEC's weights
    expected = hist.sum() * weights / weights.sum()
    assert chi_square(hist, expected) < chi2_crit(1439)

    # peaks: the busiest half hour sits in the middle of lunch (12:15) and of dinner (18:30)
    smooth = np.convolve(np.r_[hist[-15:], hist, hist[:15]], np.ones(31) / 31, mode="valid")
    lunch_peak = 11 * 60 + int(np.argmax(smooth[11 * 60 : 13 * 60 + 30]))
    dinner_peak = 17 * 60 + int(np.argmax(smooth[17 * 60 : 20 * 60]))
    assert abs(lunch_peak - (12 * 60 + 15)) <= 15, lunch_peak
    assert abs(dinner_peak - (18 * 60 + 30)) <= 15, dinner_peak
    assert smooth[lunch_peak] > 2.5 * np.median(smooth)
    assert smooth[dinner_peak] > 3.0 * np.median(smooth)

    # ratios to the off-peak baseline (minutes with weight 1; none of them late at night when bumped)
    flat = BASELINE_MINUTES
    if late_night_peak is not None:
        flat = flat[(flat >= 60) & (flat < 21 * 60)]
    baseline = hist[flat].mean()
    base_se = baseline / math.sqrt(hist[flat].sum())
    for start, end, peak in ((12 * 60 + 10, 12 * 60 + 20, 3.0), (18 * 60 + 25, 18 * 60 + 35, 3.5)):
        ratio, se = window_ratio(hist, baseline, start, end)
        spec = weights[np.arange(start, end)].mean()
        assert abs(spec - peak) < 0.01  # the middle ten minutes are at the peak
        assert_within(ratio, spec, math.hypot(se, ratio * base_se / baseline), f"peak {start}")

    # late night 21:00-01:00: only with the bump; its middle (23:00) reaches the bump's peak
    ratio, se = window_ratio(hist, baseline, 21 * 60, 25 * 60)
    middle, middle_se = window_ratio(hist, baseline, 22 * 60 + 55, 23 * 60 + 5)
    if late_night_peak is None:
        assert_within(ratio, 1.0, se, "late-night demand without a bump")
        assert_within(middle, 1.0, middle_se, "23:00 demand without a bump")
    else:
        assert_within(ratio, 1 + (late_night_peak - 1) / 2, se, "late-night bump mean")
        assert_within(middle, late_night_peak, middle_se, "late-night bump peak")
    # the mornings stay flat either way
    morning, morning_se = window_ratio(hist, baseline, 3 * 60, 10 * 60)
    assert_within(morning, 1.0, morning_se, "morning demand")


@pytest.mark.parametrize("curve", ["linear", "exponential"])
def test_growth_from_orders_day_1_to_orders_last(sf: Base, curve: str) -> None:
    first, last, days = 50.0, 1000.0, 360
    config = variant(
        sf.kitchen,
        orders_day_1=first,
        orders_last=last,
        noise_pct=10,
        demand_curve=curve,
        start_days_ago=days,
        end_days_ahead=0,
    ).config
    assert config.total_days == days
    for d in (0, 30, 90, 180, 270, 360):
        progress = d / days
        if curve == "linear":
            want = first + (last - first) * progress
        else:
            want = first * (last / first) ** progress
        counts = daily_counts(config, MONDAY, d, range(400))
        assert_within(counts.mean(), want, counts.std() / math.sqrt(counts.size), f"day {d}")
    # and the two curves really differ half way (a sanity check that the test can tell them apart)
    assert first + (last - first) / 2 > 2 * first * (last / first) ** 0.5


def test_exponential_growth_from_a_vanishing_first_day_stays_finite(sf: Base) -> None:
    """Found by hypothesis: last / first overflows to inf for a first day of ~1e-308."""
    config = variant(
        sf.kitchen,
        orders_day_1=2.2250738585072014e-308,
        orders_last=4.0,
        noise_pct=0,
        demand_curve="exponential",
        start_days_ago=2,
        end_days_ahead=0,
    ).config
    assert base_orders(config, config.total_days) == pytest.approx(4.0)
    assert base_orders(config, 1) == pytest.approx(math.sqrt(2.2250738585072014e-308 * 4.0))
    assert daily_counts(config, MONDAY, config.total_days, range(50)).mean() > 0


def test_simulated_days_follow_weekday_and_growth(sf: Base) -> None:
    """Through Kitchen.simulate_day: each day's order count is Poisson(base(d) * weekday)."""
    start = dt.datetime(2025, 3, 1)  # a Saturday, midnight: every day of the window is whole
    first, last, days = 150.0, 1500.0, 28
    kitchen = variant(
        sf.kitchen,
        sim_start_us=to_us(start),
        orders_day_1=first,
        orders_last=last,
        noise_pct=0,
        start_days_ago=0,
        end_days_ahead=days,
    )
    observed, expected = [], []
    for d in range(0, days, 2):
        day = start.date() + dt.timedelta(days=d)
        events = kitchen.simulate_day(day)
        observed.append(events.filter(pl.col("event_type") == "order_created").height)
        expected.append((first + (last - first) * d / days) * SPEC_DOW[day.weekday()])
    observed_a, expected_a = np.array(observed), np.array(expected)
    assert chi_square(observed_a, expected_a) < chi2_crit(observed_a.size)


# --------------------------------------------------------------------------- brand momentum


@pytest.mark.parametrize(
    "fractions", [(0.1, 0.2, 0.7), (0.3, 0.4, 0.3), (0.0, 1.0, 0.0), (0.25, 0.25, 0.5)]
)
def test_momentum_classes_split_by_fractions(sf: Base, fractions) -> None:
    improving, flat, declining = fractions
    kitchen = variant(
        sf.kitchen,
        brand_momentum={"improving": improving, "flat": flat, "declining": declining},
    )
    classes = kitchen.momentum
    brands = kitchen.menu.brand_count
    counts = {c: int((classes == c).sum()) for c in (IMPROVING, FLAT, DECLINING)}
    assert sum(counts.values()) == brands == classes.size
    assert abs(counts[IMPROVING] - improving * brands) <= 0.5
    assert abs(counts[FLAT] - flat * brands) <= 0.5
    assert abs(counts[DECLINING] - declining * brands) <= 1.0


def test_brand_weights_follow_monthly_momentum(sf: Base) -> None:
    growth, decline = 0.8, 0.2
    kitchen = variant(
        sf.kitchen,
        brand_momentum={"improving": 0.3, "flat": 0.4, "declining": 0.3},
        momentum_rates={"growth": growth, "decline": decline},
    )
    classes = kitchen.momentum
    w0 = kitchen.brand_weights(0)
    assert (w0 > 0).all()
    for d in (1, 15, 30, 90, 365):
        factor = kitchen.brand_weights(d) / w0
        np.testing.assert_allclose(factor[classes == IMPROVING], (1 + growth) ** (d / 30))
        np.testing.assert_allclose(factor[classes == FLAT], 1.0)
        np.testing.assert_allclose(factor[classes == DECLINING], (1 - decline) ** (d / 30))


def log_odds(a: int, b: int) -> tuple[float, float]:
    return math.log(a / b), math.sqrt(1 / a + 1 / b)


def single_brand_orders(events: pl.DataFrame) -> tuple[int, pl.Series]:
    """(order count, brand id of each single-brand order) of a simulated day."""
    lines = (
        events.filter(pl.col("event_type") == "order_created")
        .select(
            "order_id",
            pl.col("body")
            .str.json_decode(
                pl.Struct({"items": pl.List(pl.Struct({"brand_id": pl.Int64, "qty": pl.Int64}))})
            )
            .struct.field("items")
            .alias("items"),
        )
        .explode("items")
        .select("order_id", pl.col("items").struct.field("brand_id"))
    )
    per_order = lines.group_by("order_id").agg(pl.col("brand_id").unique())
    single = per_order.filter(pl.col("brand_id").list.len() == 1)
    return per_order.height, single["brand_id"].list.first()


def test_improving_brands_gain_share_and_declining_lose_it(sf: Base) -> None:
    """Single-brand orders pick a brand with probability proportional to its weight, so the odds of
    an improving (declining) brand against a flat one grow by (1 + growth)^(d/30) ((1 - decline)^...)
    whatever the brands' popularity."""
    growth, decline, gap = 0.8, 0.2, 90
    start = dt.datetime(2025, 3, 3)
    kitchen = variant(
        sf.kitchen,
        sim_start_us=to_us(start),
        start_days_ago=0,
        end_days_ahead=365,
        orders_day_1=4000,
        orders_last=4000,
        noise_pct=0,
        brand_momentum={"improving": 0.3, "flat": 0.4, "declining": 0.3},
        momentum_rates={"growth": growth, "decline": decline},
    )
    class_of = dict(zip(kitchen.menu.brand_ids.tolist(), kitchen.momentum.tolist(), strict=True))
    per_day = {}
    for d in (0, gap):
        orders, brands = single_brand_orders(kitchen.simulate_day(start.date() + dt.timedelta(d)))
        # SPEC: 70% of orders are single-brand
        share = brands.len() / orders
        assert_within(share, 0.7, math.sqrt(0.21 / orders), f"single-brand share, day {d}")
        classes = np.array([class_of[b] for b in brands.to_list()])
        per_day[d] = {c: int((classes == c).sum()) for c in (IMPROVING, FLAT, DECLINING)}
    early, late = per_day[0], per_day[gap]
    for cls, factor in ((IMPROVING, 1 + growth), (DECLINING, 1 - decline)):
        late_lo, late_se = log_odds(late[cls], late[FLAT])
        early_lo, early_se = log_odds(early[cls], early[FLAT])
        predicted = gap / 30 * math.log(factor)
        assert_within(late_lo - early_lo, predicted, math.hypot(late_se, early_se), f"class {cls}")
    # and the improving share of single-brand orders rises, the declining one falls
    assert late[IMPROVING] / sum(late.values()) > early[IMPROVING] / sum(early.values())
    assert late[DECLINING] / sum(late.values()) < early[DECLINING] / sum(early.values())


def test_brand_launch_and_exit_days(sf: Base) -> None:
    start = dt.datetime(2025, 3, 3)
    launching, exiting, launch_day, exit_day = 5, 11, 10, 12
    kitchen = variant(
        sf.kitchen,
        sim_start_us=to_us(start),
        start_days_ago=0,
        end_days_ahead=60,
        orders_day_1=800,
        orders_last=800,
        brand_lifecycle=[
            {"brand_id": launching, "launch_day": launch_day},
            {"brand_id": exiting, "exit_day": exit_day},
        ],
    )

    def brands_sold(d: int) -> set[int]:
        events = kitchen.simulate_day(start.date() + dt.timedelta(days=d))
        assert events.height > 0
        brand_ids = (
            events.filter(pl.col("event_type") == "order_created")["body"]
            .str.json_decode(pl.Struct({"items": pl.List(pl.Struct({"brand_id": pl.Int64}))}))
            .struct.field("items")
            .explode()
            .struct.field("brand_id")
        )
        return set(brand_ids.to_list())

    sold = {d: brands_sold(d) for d in (0, launch_day - 1, launch_day, exit_day - 1, exit_day, 40)}
    for d in (0, launch_day - 1):
        assert launching not in sold[d], f"brand {launching} sold on day {d}, before its launch"
    for d in (launch_day, exit_day - 1, 40):
        assert launching in sold[d], f"brand {launching} not sold on day {d}, after its launch"
    for d in (0, launch_day - 1, launch_day, exit_day - 1):
        assert exiting in sold[d], f"brand {exiting} not sold on day {d}, before its exit"
    for d in (exit_day, 40):
        assert exiting not in sold[d], f"brand {exiting} sold on day {d}, after its exit"
    # every other brand sells throughout
    assert len(sold[40]) == kitchen.menu.brand_count - 1


# --------------------------------------------------------------------------- baskets


def test_basket_shapes(sf: Base) -> None:
    n = 120_000
    menu = sf.kitchen.menu
    rng = np.random.default_rng(31)
    weights = rng.lognormal(0.0, 0.5, menu.brand_count)
    baskets = draw_baskets(np.random.default_rng(32), menu, weights, n)

    brand_of_row = np.repeat(menu.brand_ids, np.diff(menu.brand_item_offsets))
    lines = pl.DataFrame(
        {
            "order": baskets.order_index,
            "item": menu.item_ids[baskets.item_row],
            "brand": brand_of_row[baskets.item_row],
            "qty": baskets.qty,
        }
    )
    per_order = lines.group_by("order").agg(pl.col("brand").n_unique().alias("brands"))
    assert per_order.height == n, "an order without items"
    brands = per_order["brands"].to_numpy()

    # 70% single-brand
    assert_within((brands == 1).mean(), 0.7, math.sqrt(0.21 / n), "single-brand share")
    # multi-brand orders: 2, 3 or 4 brands, uniformly
    multi = brands[brands > 1]
    assert multi.max() <= 4
    counts = np.bincount(multi, minlength=5)[2:]
    assert chi_square(counts, np.full(3, multi.size / 3)) < chi2_crit(2)
    # 1-4 distinct items per (order, brand), uniformly (every brand has at least 4 items)
    per_brand = lines.group_by("order", "brand").agg(
        pl.len().alias("lines"), pl.col("item").n_unique().alias("distinct")
    )
    assert (per_brand["lines"] == per_brand["distinct"]).all()
    items = per_brand["distinct"].to_numpy()
    assert items.min() >= 1 and items.max() <= 4
    counts = np.bincount(items, minlength=5)[1:]
    assert chi_square(counts, np.full(4, items.size / 4)) < chi2_crit(3)
    # qty uniform 1-3
    qty = baskets.qty
    assert qty.min() >= 1 and qty.max() <= 3
    counts = np.bincount(qty, minlength=4)[1:]
    assert chi_square(counts, np.full(3, qty.size / 3)) < chi2_crit(2)
    # a single-brand order's brand is drawn in proportion to the brand weights
    single = lines.join(per_order.filter(pl.col("brands") == 1), on="order").unique("order")
    picked = np.searchsorted(menu.brand_ids, single["brand"].to_numpy())
    counts = np.bincount(picked, minlength=menu.brand_count)
    expected = single.height * weights / weights.sum()
    assert chi_square(counts, expected) < chi2_crit(menu.brand_count - 1)
    # items within a brand are drawn uniformly: each item's share of its brand's lines
    item_rows = np.bincount(baskets.item_row, minlength=menu.item_ids.size)
    brand_lines = np.add.reduceat(item_rows, menu.brand_item_offsets[:-1])
    sizes = np.diff(menu.brand_item_offsets)
    expected = np.repeat(brand_lines / sizes, sizes)
    assert chi_square(item_rows, expected) < chi2_crit(menu.item_ids.size - menu.brand_count)


def test_kitchen_seed_changes_the_world(sf: Base) -> None:
    """The seed drives the demand, baskets and momentum split (not only the ids)."""
    one: Kitchen = variant(sf.kitchen, seed=1, orders_day_1=500, orders_last=500)
    two: Kitchen = variant(sf.kitchen, seed=2, orders_day_1=500, orders_last=500)
    assert not np.array_equal(one.brand_weights(30), two.brand_weights(30))
    day = dt.date(2025, 1, 16)
    assert not np.array_equal(
        created_minutes(one.simulate_day(day)), created_minutes(two.simulate_day(day))
    )
