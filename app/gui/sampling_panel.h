#pragma once
// SamplingPanel: the right-hand sidebar of decoding settings (temperature, top-k, top-p, min-p,
// repetition penalty, seed, max tokens), each with a tooltip. setModelDefaults() applies the model's
// generation_config.json; "Reset to model defaults" returns to them.
#include <QWidget>

#include "engine/model/config.h"
#include "engine/sampling.h"
#include "engine/scmoe.h"
#include <optional>

class QCheckBox;
class QComboBox;
class QGroupBox;
class QDoubleSpinBox;
class QSpinBox;
class QLabel;

namespace moescope::gui {

class SamplingPanel : public QWidget {
    Q_OBJECT
public:
    explicit SamplingPanel(QWidget* parent = nullptr);

    SamplingParams params() const;
    int maxTokens() const;
    // SCMoE self-contrast decoding settings, or nullopt when the option is off.
    std::optional<ScmoeOptions> scmoe() const;
    void setScmoe(const std::optional<ScmoeOptions>& o);
    void setModelDefaults(const GenerationDefaults& d);
    const GenerationDefaults& modelDefaults() const { return defaults_; }

public slots:
    void resetToModelDefaults();

signals:
    void changed();

private:
    GenerationDefaults defaults_;
    QDoubleSpinBox* temperature_;
    QSpinBox* topK_;
    QDoubleSpinBox* topP_;
    QDoubleSpinBox* minP_;
    QDoubleSpinBox* repeat_;
    QSpinBox* seed_;
    QSpinBox* maxTokens_;
    QLabel* source_;
    QGroupBox* scmoeBox_;
    QDoubleSpinBox* scmoeBeta_;
    QDoubleSpinBox* scmoeAlpha_;
    QComboBox* scmoeWeak_;
};

}  // namespace moescope::gui
