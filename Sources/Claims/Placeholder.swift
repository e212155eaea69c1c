public enum _PlaceholderClaims {}
