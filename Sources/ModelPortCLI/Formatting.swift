import ModelPort

enum ModelPortFormatting {
    static func bytes(_ n: Int) -> String { formatBytes(n) }

    static func seconds(_ duration: Duration) -> String {
        let (s, attoseconds) = duration.components
        let total = Double(s) + Double(attoseconds) / 1e18
        return total < 10 ? String((total * 100).rounded() / 100) + " s" : String((total * 10).rounded() / 10) + " s"
    }
}
