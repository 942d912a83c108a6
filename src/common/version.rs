//! MCP protocol versions the gateway can serve, and the two eras they belong to: handshake
//! versions (`initialize`, `Mcp-Session-Id`) and the stateless 2026-07-28 (`_meta` per request).

/// A protocol version this gateway implements. Ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl ProtocolVersion {
    pub const ALL: [ProtocolVersion; 4] = [
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Stateless versions: no `initialize`, version and client info in each request's `_meta`.
    pub fn is_modern(self) -> bool {
        self >= Self::V2026_07_28
    }

    /// Whether tool results and list results carry `resultType` and caching hints.
    pub fn has_result_type(self) -> bool {
        self.is_modern()
    }

    /// Whether `structuredContent` exists in this version's `CallToolResult`.
    pub fn has_structured_content(self) -> bool {
        self >= Self::V2025_06_18
    }

    /// Whether `resource_link` content items exist in this version.
    pub fn has_resource_links(self) -> bool {
        self >= Self::V2025_06_18
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
        assert!(ProtocolVersion::V2026_07_28.is_modern());
        assert!(!ProtocolVersion::V2025_11_25.is_modern());
        assert_eq!(ProtocolVersion::parse("2024-11-05"), None);
    }
}
