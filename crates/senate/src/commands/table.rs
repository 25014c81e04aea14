//! Aligned text columns in the style of Consul's CLI tables (left-aligned, two spaces apart).

/// Lays out `rows` in columns: every cell but a row's last is padded to its column's widest
/// cell and followed by two spaces. Lines are joined by `\n`, with no trailing newline.
pub fn columnize(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            let width = cell.trim().chars().count();
            match widths.get_mut(column) {
                Some(widest) => *widest = (*widest).max(width),
                None => widths.push(width),
            }
        }
    }
    rows.iter()
        .map(|row| render_row(row, &widths))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (column, cell) in row.iter().enumerate() {
        let cell = cell.trim();
        if column + 1 == row.len() {
            line.push_str(cell);
        } else {
            let padding = widths[column] - cell.chars().count();
            line.push_str(cell);
            line.push_str(&" ".repeat(padding + 2));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| cell.to_string()).collect()
    }

    #[test]
    fn pads_all_but_the_last_column() {
        let table = columnize(&[
            row(&["Node", "Address", "Status"]),
            row(&["a-long-name", "1.2.3.4:8301", "alive"]),
        ]);
        assert_eq!(
            table,
            "Node         Address       Status\na-long-name  1.2.3.4:8301  alive"
        );
    }
}
