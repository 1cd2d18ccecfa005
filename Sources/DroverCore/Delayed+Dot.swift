extension Delayed {
    /// The task graph as Graphviz DOT text, like Dask's `visualize()`: one node per task, named by
    /// its function (the key as tooltip), an edge from each input to the task that takes it, the
    /// results at the top. `dot -Tsvg` draws it; `svg()` in DroverLocal runs that.
    public func dot() -> String {
        Self.dot(roots: [node])
    }

    /// The graph of several lazy values as one DOT text; see ``dot()``.
    public static func dot(_ values: [Delayed<Value>]) -> String {
        dot(roots: values.map(\.node))
    }

    static func dot(roots: [DelayedNode]) -> String {
        let nodes = DelayedNode.dependenciesFirst(roots)
        var numbers: [ObjectIdentifier: Int] = [:]
        var lines = ["digraph drover {", "    rankdir=BT;", "    node [shape=ellipse, fontname=\"Helvetica\"];"]
        for (number, node) in nodes.enumerated() {
            numbers[ObjectIdentifier(node)] = number
            let label = Self.quoted(node.function.name)
            let key = Self.quoted(node.spec.key.rawValue)
            lines.append("    t\(number) [label=\(label), tooltip=\(key)];")
        }
        for node in nodes {
            let to = numbers[ObjectIdentifier(node)]!
            for dependency in node.dependencies {
                lines.append("    t\(numbers[ObjectIdentifier(dependency)]!) -> t\(to);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` as a DOT string literal.
    private static func quoted(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }
}
