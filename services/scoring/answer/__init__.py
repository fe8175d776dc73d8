"""What answers questions: reports and sources, answers kept in memory, views, exports, alerts."""
