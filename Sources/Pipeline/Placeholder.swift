public enum _PlaceholderPipeline {}
