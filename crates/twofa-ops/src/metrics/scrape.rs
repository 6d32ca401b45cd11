//! `/metrics` text read back as Prometheus reads it (feature `test-util`), for tests.

/// The samples of a scrape, parsed by the `prometheus-parse` crate.
#[derive(Debug)]
pub struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    /// Parses `text` in the Prometheus text format.
    ///
    /// # Errors
    ///
    /// The parser's error for text Prometheus would not read.
    pub fn parse(text: &str) -> std::io::Result<Self> {
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).map(Self)
    }

    /// The value of the counter or gauge `name` whose labels include all of `labels`; `None` when
    /// there is no such sample. A family with several matching samples adds them up.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)));
        matching.fold(None, |sum, s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(sum.unwrap_or(0.0) + v),
            _ => sum,
        })
    }

    /// The count of observations of the histogram `name` with `labels`.
    pub fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .find_map(|s| match &s.value {
                prometheus_parse::Value::Histogram(buckets) => buckets.last().map(|b| b.count),
                _ => None,
            })
    }

    /// Every label value of every sample, for checking that none is a secret.
    pub fn label_values(&self) -> Vec<String> {
        self.0.samples.iter().flat_map(|s| s.labels.values().cloned().collect::<Vec<_>>()).collect()
    }
}
