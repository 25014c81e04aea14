//! The adjustment window: recent residuals (measured RTT minus raw estimate) averaged into a correction term.

/// A ring of the most recent residuals, in seconds, starting out as zeros.
#[derive(Debug, Clone)]
pub(crate) struct AdjustmentWindow {
    residuals: Vec<f64>,
    next: usize,
}

impl AdjustmentWindow {
    /// A window of `size` residuals; a size of 0 keeps the adjustment at zero.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            residuals: vec![0.0; size],
            next: 0,
        }
    }

    /// Records `residual`, overwriting the oldest one, and returns the new adjustment.
    ///
    /// The adjustment is half the window's mean, because a distance adds the
    /// adjustments of both of its ends.
    pub(crate) fn record(&mut self, residual: f64) -> f64 {
        let size = self.residuals.len();
        if size == 0 {
            return 0.0;
        }
        self.residuals[self.next] = residual;
        self.next = (self.next + 1) % size;
        self.residuals.iter().sum::<f64>() / (2.0 * size as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    #[test]
    fn adjustment_is_half_the_mean_over_the_whole_window() {
        let mut window = AdjustmentWindow::new(4);
        assert_close(window.record(0.008), 0.001);
        assert_close(window.record(0.008), 0.002);
    }

    #[test]
    fn oldest_residual_is_overwritten() {
        let mut window = AdjustmentWindow::new(2);
        window.record(0.100);
        window.record(0.004);
        assert_close(window.record(0.004), 0.002);
    }

    #[test]
    fn empty_window_disables_adjustment() {
        let mut window = AdjustmentWindow::new(0);
        assert_eq!(window.record(0.5), 0.0);
    }
}
