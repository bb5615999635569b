public enum KECharts {}
