"""Reports of pipeline runs (HTML/Markdown) and their figures."""

from eegsnn.report.report import build_report, write_report

__all__ = ["build_report", "write_report"]
