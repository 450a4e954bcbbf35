"""What Firebell measured, read back through the OpenTelemetry SDK's in-memory reader (the `metrics` fixture)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from shared.core import telemetry


class Measured:
    """Installs an SDK meter provider with an in-memory reader as Firebell's meter (no Azure Monitor involved)."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        telemetry.use(self.provider)

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of each data point of `name` so far: a counter's sum, a gauge's last value, a
        histogram's (count, sum, min, max)."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        value = (
                            (point.count, point.sum, point.min, point.max)
                            if isinstance(point, HistogramDataPoint)
                            else point.value
                        )
                        found.append((dict(point.attributes or {}), value))
        return found

    def by(self, name: str, attribute: str) -> dict[Any, Any]:
        """A metric's values keyed by one attribute (the points must differ in it alone)."""
        return {attributes.get(attribute): value for attributes, value in self.points(name)}

    def total(self, name: str) -> float:
        return sum(value for _, value in self.points(name))
