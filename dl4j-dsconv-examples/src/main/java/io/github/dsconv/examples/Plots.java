package io.github.dsconv.examples;

import io.github.dsconv.files.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** PNG line and bar charts (XChart), written atomically. */
public final class Plots {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Plots() {
    }

    /**
     * A line chart with one series a name; x values shared per series.
     *
     * @param file      PNG to write
     * @param title     chart title
     * @param xLabel    x axis label
     * @param yLabel    y axis label
     * @param series    series name -> (x values, y values)
     * @param reference optional horizontal reference line (name -> y), e.g. the FP32 accuracy
     * @param xPattern  decimal pattern of the x tick labels (e.g. "#" for bit widths)
     */
    public static void lines(Path file, String title, String xLabel, String yLabel,
                             Map<String, List<double[]>> series, Map<String, Double> reference, String xPattern)
            throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setXAxisDecimalPattern(xPattern);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        double minX = Double.MAX_VALUE;
        double maxX = -Double.MAX_VALUE;
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            double[] x = e.getValue().get(0);
            double[] y = e.getValue().get(1);
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
            for (double v : x) {
                minX = Math.min(minX, v);
                maxX = Math.max(maxX, v);
            }
        }
        if (reference != null) {
            for (Map.Entry<String, Double> r : reference.entrySet()) {
                XYSeries s = chart.addSeries(r.getKey(), new double[] {minX, maxX},
                        new double[] {r.getValue(), r.getValue()});
                s.setMarker(SeriesMarkers.NONE);
            }
        }
        save(chart, file);
    }

    /**
     * A scatter chart: one series a name, points only unless the series is listed in {@code lines} (then joined in
     * the given order).
     *
     * @param file   PNG to write
     * @param title  chart title
     * @param xLabel x axis label
     * @param yLabel y axis label
     * @param series series name -> (x values, y values)
     * @param lines  names of the series drawn as lines with markers
     */
    public static void scatter(Path file, String title, String xLabel, String yLabel,
                               Map<String, List<double[]>> series, java.util.Set<String> lines) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        chart.getStyler().setXAxisDecimalPattern("#,###");
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            if (e.getValue().get(0).length == 0) {
                continue;
            }
            XYSeries s = chart.addSeries(e.getKey(), e.getValue().get(0), e.getValue().get(1));
            s.setMarker(SeriesMarkers.CIRCLE);
            if (!lines.contains(e.getKey())) {
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            }
        }
        save(chart, file);
    }

    /**
     * A grouped bar chart: one group a category (e.g. a layer), one bar a series. XChart 3.8 draws bars upright
     * only, so long category names are rotated.
     *
     * @param file       PNG to write
     * @param title      chart title
     * @param xLabel     category axis label
     * @param yLabel     value axis label
     * @param categories category names, in order
     * @param series     series name -> one value a category
     */
    public static void bars(Path file, String title, String xLabel, String yLabel, List<String> categories,
                            Map<String, double[]> series) throws IOException {
        int width = Math.max(800, 60 + 40 * categories.size() * Math.max(1, series.size()));
        CategoryChart chart = new CategoryChartBuilder().width(width).height(560).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setXAxisLabelRotation(60);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        chart.getStyler().setYAxisMin(0.0);
        for (Map.Entry<String, double[]> e : series.entrySet()) {
            if (e.getValue().length != categories.size()) {
                throw new IllegalArgumentException("series '" + e.getKey() + "' has " + e.getValue().length
                        + " values for " + categories.size() + " categories");
            }
            List<Double> values = new java.util.ArrayList<>();
            for (double v : e.getValue()) {
                values.add(v);
            }
            chart.addSeries(e.getKey(), categories, values);
        }
        save(chart, file);
    }

    private static void save(Chart<?, ?> chart, Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = AtomicFiles.tempFor(target);
        try {
            try (java.io.OutputStream out = Files.newOutputStream(tmp)) {
                BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
            }
            AtomicFiles.moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
